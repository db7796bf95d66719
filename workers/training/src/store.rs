//! Every SQL statement of the training worker.

/// Finished repairs that used a catalogue part and are no simulation yet (`?1` workspace).
pub const CANDIDATES: &str = "SELECT t.id, t.title, t.description, COALESCE(d.type, 'other') AS device_type,
        (SELECT l.part_id FROM stock_ledger l WHERE l.ticket_id = t.id AND l.kind = 'consume' ORDER BY l.seq LIMIT 1) AS part_id,
        (SELECT COUNT(*) FROM qc_inspections i WHERE i.ticket_id = t.id AND i.status IN ('passed', 'failed')) AS qc_attempts,
        (SELECT (julianday(MIN(r.at)) - julianday(t.created_at)) * 24.0 FROM ticket_timeline r
            WHERE r.ticket_id = t.id AND r.kind = 'status' AND r.to_status = 'READY') AS hours_to_ready
    FROM tickets t LEFT JOIN devices d ON d.id = t.device_id
    WHERE t.workspace_id = ?1 AND t.status IN ('READY', 'PICKED_UP', 'CLOSED')
        AND EXISTS (SELECT 1 FROM stock_ledger l WHERE l.ticket_id = t.id AND l.kind = 'consume')
        AND NOT EXISTS (SELECT 1 FROM training_simulations s WHERE s.workspace_id = ?1 AND s.ticket_id = t.id)
    ORDER BY t.created_at LIMIT 50";

/// What the technicians wrote down on a ticket (notes, the reasons of moves): its findings.
pub const FINDINGS: &str = "SELECT body FROM ticket_timeline WHERE ticket_id = ?1 AND body IS NOT NULL AND body != ''
        AND (kind = 'note' OR (kind = 'status' AND from_status = 'QC'))
    ORDER BY seq LIMIT 5";

/// A part's description and category.
pub const PART: &str = "SELECT description, category FROM parts WHERE id = ?1";

/// Other parts to choose from: the same category first.
pub const DISTRACTORS: &str =
    "SELECT DISTINCT description FROM parts WHERE workspace_id = ?1 AND id != ?2 AND description != ?3
    ORDER BY (category IS ?4) DESC, sku LIMIT 3";

pub const SIMULATION_INSERT: &str = "INSERT INTO training_simulations
        (id, workspace_id, ticket_id, module, device_type, question, symptoms, findings, choices, answer, outcome, created_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT (workspace_id, ticket_id) DO NOTHING";

pub const SIMULATION_COLUMNS: &str =
    "id, module, device_type, question, symptoms, findings, choices, answer, outcome, created_at";

/// The caller's first attempt at a simulation (`?1` user, `?2` simulation).
pub const FIRST_ATTEMPT: &str = "SELECT choice, correct, score, at FROM training_attempts
    WHERE user_id = ?1 AND simulation_id = ?2 ORDER BY id LIMIT 1";

pub const ATTEMPT_INSERT: &str =
    "INSERT INTO training_attempts (workspace_id, user_id, simulation_id, choice, correct, score, at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

/// XP for something, once (`?4` the source).
pub const XP_INSERT: &str = "INSERT INTO training_xp (workspace_id, user_id, source, xp, reason, at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (workspace_id, user_id, source) DO NOTHING";

/// XP to the technician of a ticket (its assignee), once (`?2` ticket, `?3` source).
pub const XP_TO_ASSIGNEE: &str = "INSERT INTO training_xp (workspace_id, user_id, source, xp, reason, at)
    SELECT ?1, t.assignee_id, ?3, ?4, ?5, ?6 FROM tickets t WHERE t.id = ?2 AND t.assignee_id IS NOT NULL
    ON CONFLICT (workspace_id, user_id, source) DO NOTHING";

pub const XP_TOTAL: &str =
    "SELECT COALESCE(SUM(xp), 0) AS xp FROM training_xp WHERE workspace_id = ?1 AND user_id = ?2";

pub const XP_RECENT: &str = "SELECT xp, reason, source, at FROM training_xp WHERE workspace_id = ?1 AND user_id = ?2
    ORDER BY id DESC LIMIT 20";

/// Per module: its simulations, how many the person has answered, the mean of their first
/// scores (`?1` workspace, `?2` user).
pub const MODULES: &str =
    "SELECT s.module, COUNT(*) AS simulations, COUNT(f.score) AS answered, AVG(f.score) AS mean_score
    FROM training_simulations s
    LEFT JOIN (SELECT a.simulation_id, a.score FROM training_attempts a
               WHERE a.workspace_id = ?1 AND a.user_id = ?2
                 AND a.id = (SELECT MIN(b.id) FROM training_attempts b
                             WHERE b.user_id = a.user_id AND b.simulation_id = a.simulation_id)) f
        ON f.simulation_id = s.id
    WHERE s.workspace_id = ?1 GROUP BY s.module ORDER BY s.module";

pub const CERTIFICATIONS: &str = "SELECT c.id, c.name, c.modules, c.min_score, c.valid_days, c.created_at,
        h.earned_at, h.expires_at
    FROM training_certifications c
    LEFT JOIN training_certificates h ON h.certification_id = c.id AND h.user_id = ?2
    WHERE c.workspace_id = ?1 ORDER BY c.name";

pub const CERTIFICATION_INSERT: &str = "INSERT INTO training_certifications
        (id, workspace_id, name, modules, min_score, valid_days, created_by, created_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (workspace_id, name) DO NOTHING";

/// Earned (or earned again once lapsed): a held, unexpired certificate is left as it is.
pub const CERTIFICATE_AWARD: &str =
    "INSERT INTO training_certificates (workspace_id, user_id, certification_id, earned_at, expires_at)
    VALUES (?1, ?2, ?3, ?4, ?5)
    ON CONFLICT (workspace_id, user_id, certification_id) DO UPDATE SET earned_at = excluded.earned_at,
        expires_at = excluded.expires_at WHERE training_certificates.expires_at <= excluded.earned_at";

/// XP earned since `?2` per person of the workspace, most first (ties: who got there first).
pub const LEADERBOARD: &str = "SELECT x.user_id AS id, u.name, u.email, SUM(x.xp) AS xp,
        (SELECT COALESCE(SUM(y.xp), 0) FROM training_xp y WHERE y.workspace_id = ?1 AND y.user_id = x.user_id) AS total_xp
    FROM training_xp x JOIN users u ON u.id = x.user_id
    WHERE x.workspace_id = ?1 AND x.at >= ?2
    GROUP BY x.user_id ORDER BY xp DESC, MAX(x.id) ASC LIMIT 50";
