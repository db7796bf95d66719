//! Every SQL statement of the analytics worker. Facts are its own table; the current state
//! (backlog, overdue, bench time, staff) is read from the owners' tables as they stand.

/// One fact from one event, enriched from the ticket as it is now: its technician (unless
/// the event names one), its device's type and its quote's service tier. A stage's time is
/// from the ticket's previous stage fact (or its creation) to this event; a completed
/// repair's amount is the cost of the parts it consumed. `ON CONFLICT` makes a redelivered
/// event count nothing.
///
/// `?1` event id, `?2` workspace, `?3` kind, `?4` at, `?5` ticket, `?6` actor,
/// `?7` technician, `?8` stage, `?9` amount, `?10` value.
pub const FACT_INSERT: &str = "INSERT INTO analytics_facts
        (event_id, workspace_id, kind, at, ticket_id, actor_id, technician_id, device_type, service, stage, seconds, amount, value)
    SELECT ?1, ?2, ?3, ?4, ?5, ?6, COALESCE(?7, t.assignee_id), d.type, json_extract(q.inputs, '$.complexity'), ?8,
        CASE WHEN ?3 = 'stage' THEN MAX(0.0, (julianday(?4) - julianday(COALESCE(
            (SELECT MAX(f.at) FROM analytics_facts f WHERE f.ticket_id = ?5 AND f.kind IN ('opened', 'stage') AND f.at <= ?4),
            t.created_at))) * 86400.0) END,
        CASE WHEN ?3 = 'completed' THEN (SELECT COALESCE(SUM(ABS(l.quantity) * p.cost_cents), 0)
            FROM stock_ledger l JOIN parts p ON p.id = l.part_id WHERE l.ticket_id = ?5 AND l.kind = 'consume')
            ELSE ?9 END,
        ?10
    FROM (SELECT 1) LEFT JOIN tickets t ON t.id = ?5 LEFT JOIN devices d ON d.id = t.device_id
        LEFT JOIN quotes q ON q.id = t.quote_id
    WHERE 1
    ON CONFLICT (event_id) DO NOTHING";

/// Counts of each kind of fact in a window (`?1` workspace, `?2` from, `?3` to).
pub const COUNTS: &str =
    "SELECT kind, COUNT(*) AS n, COUNT(DISTINCT ticket_id) AS tickets, COALESCE(SUM(amount), 0) AS amount
    FROM analytics_facts WHERE workspace_id = ?1 AND at >= ?2 AND at < ?3 GROUP BY kind";

/// Average hours from a ticket's opening to its completion, over completions in the window.
pub const TURNAROUND: &str = "SELECT AVG((julianday(c.at) - julianday(t.created_at)) * 24.0) AS hours
    FROM analytics_facts c JOIN tickets t ON t.id = c.ticket_id
    WHERE c.workspace_id = ?1 AND c.kind = 'completed' AND c.at >= ?2 AND c.at < ?3";

/// Time in each stage, over the stages left in the window.
pub const STAGES: &str = "SELECT stage, COUNT(*) AS n, AVG(seconds) / 3600.0 AS hours
    FROM analytics_facts WHERE workspace_id = ?1 AND kind = 'stage' AND at >= ?2 AND at < ?3
    GROUP BY stage ORDER BY stage";

/// Tickets completed in the window, and those of them never failing QC (first-time fixes).
pub const FIRST_TIME_FIX: &str = "SELECT COUNT(DISTINCT c.ticket_id) AS completed,
        COUNT(DISTINCT CASE WHEN NOT EXISTS (SELECT 1 FROM analytics_facts f
            WHERE f.ticket_id = c.ticket_id AND f.kind = 'qc_failed') THEN c.ticket_id END) AS fixed
    FROM analytics_facts c WHERE c.workspace_id = ?1 AND c.kind = 'completed' AND c.at >= ?2 AND c.at < ?3";

/// First QC attempts in the window, and how many passed.
pub const FIRST_PASS: &str = "SELECT COUNT(*) AS attempts, COALESCE(SUM(kind = 'qc_passed'), 0) AS passed
    FROM analytics_facts WHERE workspace_id = ?1 AND kind IN ('qc_passed', 'qc_failed') AND value = 1
        AND at >= ?2 AND at < ?3";

/// The parts cost of the tickets paid in the window (each ticket's latest completion).
pub const PARTS_COST_OF_PAID: &str = "SELECT COALESCE(SUM(cost), 0) AS cents FROM (
        SELECT MAX(amount) AS cost FROM analytics_facts
        WHERE kind = 'completed' AND ticket_id IN (SELECT ticket_id FROM analytics_facts
            WHERE workspace_id = ?1 AND kind = 'payment' AND at >= ?2 AND at < ?3)
        GROUP BY ticket_id)";

/// Scans completed in the window by health band.
pub const SCANS: &str = "SELECT CASE WHEN value IS NULL THEN 'unscored' WHEN value < 50 THEN '0-49'
        WHEN value < 70 THEN '50-69' WHEN value < 90 THEN '70-89' ELSE '90-100' END AS band,
        COUNT(*) AS n, AVG(value) AS average
    FROM analytics_facts WHERE workspace_id = ?1 AND kind = 'scan' AND at >= ?2 AND at < ?3 GROUP BY band";

/// Open tickets by status, now (`?1` workspace).
pub const BACKLOG: &str = "SELECT status, COUNT(*) AS n FROM tickets
    WHERE workspace_id = ?1 AND status NOT IN ('PICKED_UP', 'CLOSED', 'VOID') GROUP BY status";

/// Open tickets past their due time (`?2` now).
pub const OVERDUE: &str = "SELECT COUNT(*) AS n FROM tickets
    WHERE workspace_id = ?1 AND due_at IS NOT NULL AND due_at < ?2
        AND status NOT IN ('READY', 'PICKED_UP', 'CLOSED', 'VOID')";

/// The newest fact's time: what a dashboard watches to know it should refresh.
pub const LAST_EVENT: &str = "SELECT MAX(at) AS at, COUNT(*) AS n FROM analytics_facts WHERE workspace_id = ?1";

/// Revenue by period and group (`?4` the strftime format; the group column is spliced in
/// from [`crate::domain::Grouping::column`], a constant).
pub fn revenue(group_column: &str) -> String {
    format!(
        "SELECT strftime(?4, at) AS period, {group_column} AS grp, COALESCE(SUM(amount), 0) AS cents, COUNT(*) AS payments
        FROM analytics_facts WHERE workspace_id = ?1 AND kind = 'payment' AND at >= ?2 AND at < ?3
        GROUP BY period, grp ORDER BY period, grp"
    )
}

/// Daily totals of a fact kind for the forecast: payments' cents or tickets opened.
pub const DAILY: &str = "SELECT substr(at, 1, 10) AS day,
        CASE WHEN ?4 = 'payment' THEN COALESCE(SUM(amount), 0) ELSE COUNT(*) END AS total
    FROM analytics_facts WHERE workspace_id = ?1 AND kind = ?4 AND at >= ?2 AND at < ?3
    GROUP BY day ORDER BY day";

/// The workspace's staff (owner, admin, technician), with names.
pub const STAFF: &str =
    "SELECT m.user_id AS id, u.name, u.email, m.role FROM memberships m JOIN users u ON u.id = m.user_id
    WHERE m.workspace_id = ?1 AND m.role IN ('owner', 'admin', 'technician') ORDER BY u.email";

/// Per technician: tickets closed, QC results (first attempts and all), rework and
/// customer messages answered in the window.
pub const PERFORMANCE: &str = "SELECT who AS id,
        COUNT(DISTINCT CASE WHEN kind = 'completed' THEN ticket_id END) AS tickets_closed,
        COALESCE(SUM(kind = 'qc_passed'), 0) AS qc_passed,
        COALESCE(SUM(kind = 'qc_failed'), 0) AS qc_failed,
        COALESCE(SUM(kind = 'message_answered'), 0) AS messages_answered
    FROM (SELECT kind, ticket_id, CASE WHEN kind = 'message_answered' THEN actor_id ELSE technician_id END AS who
          FROM analytics_facts WHERE workspace_id = ?1 AND at >= ?2 AND at < ?3
              AND kind IN ('completed', 'qc_passed', 'qc_failed', 'message_answered'))
    WHERE who IS NOT NULL GROUP BY who";

/// Bench time per technician: timer spans started in the window (`?2`, `?3` unix seconds;
/// `?4` now, for a running one), on the workspace's tickets.
pub const BENCH: &str =
    "SELECT tt.technician_id AS id, COALESCE(SUM(COALESCE(tt.stopped_at, ?4) - tt.started_at), 0) AS seconds
    FROM ticket_timers tt JOIN tickets t ON t.id = tt.ticket_id
    WHERE t.workspace_id = ?1 AND tt.started_at >= ?2 AND tt.started_at < ?3 GROUP BY tt.technician_id";
