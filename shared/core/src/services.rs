//! The service catalogue: the seventeen workers, the bindings each holds and the API areas
//! each owns.
//!
//! This table is the single source the gateway routes by and health reports from; a native
//! test (`tests/wrangler_configs.rs`) checks every `workers/*/wrangler.toml` against it, so
//! the code and the deploy configuration cannot drift apart.

use crate::bindings::*;

/// What kind of Cloudflare resource a binding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindingKind {
    D1,
    Kv,
    R2,
    /// A queue this worker produces to.
    Queue,
    DurableObject,
    /// A service binding to another worker.
    Service,
    /// The worker's static assets (`[assets]` in its `wrangler.toml`).
    Assets,
}

impl BindingKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            BindingKind::D1 => "d1",
            BindingKind::Kv => "kv",
            BindingKind::R2 => "r2",
            BindingKind::Queue => "queue",
            BindingKind::DurableObject => "durable_object",
            BindingKind::Service => "service",
            BindingKind::Assets => "assets",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Binding {
    pub name: &'static str,
    pub kind: BindingKind,
}

const fn d1(name: &'static str) -> Binding {
    Binding { name, kind: BindingKind::D1 }
}
const fn kv(name: &'static str) -> Binding {
    Binding { name, kind: BindingKind::Kv }
}
const fn r2(name: &'static str) -> Binding {
    Binding { name, kind: BindingKind::R2 }
}
const fn queue(name: &'static str) -> Binding {
    Binding { name, kind: BindingKind::Queue }
}
const fn object(name: &'static str) -> Binding {
    Binding { name, kind: BindingKind::DurableObject }
}
const fn assets(name: &'static str) -> Binding {
    Binding { name, kind: BindingKind::Assets }
}
const fn service(name: &'static str) -> Binding {
    Binding { name, kind: BindingKind::Service }
}

/// One worker of the platform.
#[derive(Debug)]
pub struct ServiceSpec {
    /// Folder under `workers/`; deployed as `noizylab-<dir>`.
    pub dir: &'static str,
    /// The name other workers bind it by.
    pub binding: &'static str,
    pub role: &'static str,
    /// Every binding its `wrangler.toml` declares (queue consumers excluded).
    pub bindings: &'static [Binding],
    /// Queues it consumes (Cloudflare allows one consumer per queue).
    pub consumes: &'static [&'static str],
    /// Durable Object classes it defines.
    pub classes: &'static [&'static str],
}

impl ServiceSpec {
    pub fn worker_name(&self) -> String {
        format!("noizylab-{}", self.dir)
    }
}

/// Queue names, as created in the account. Each has a dead-letter queue `<name>-dlq`.
pub mod queues {
    pub const EVENTS: &str = "noizylab-events";
    pub const JOBS: &str = "noizylab-jobs";
    pub const NOTIFY: &str = "noizylab-notify";
    pub const WORKFLOWS: &str = "noizylab-workflows";
    pub const EVENTS_DLQ: &str = "noizylab-events-dlq";
    pub const JOBS_DLQ: &str = "noizylab-jobs-dlq";
    pub const NOTIFY_DLQ: &str = "noizylab-notify-dlq";
    pub const WORKFLOWS_DLQ: &str = "noizylab-workflows-dlq";
    pub const ALL: [&str; 4] = [EVENTS, JOBS, NOTIFY, WORKFLOWS];

    /// The dead-letter queue of a main queue.
    pub fn dead_letter_of(queue: &str) -> Option<&'static str> {
        match queue {
            EVENTS => Some(EVENTS_DLQ),
            JOBS => Some(JOBS_DLQ),
            NOTIFY => Some(NOTIFY_DLQ),
            WORKFLOWS => Some(WORKFLOWS_DLQ),
            _ => None,
        }
    }
}

pub const API_GATEWAY: &str = "API_GATEWAY";
pub const MAIN: &str = "MAIN";
pub const BRAIN: &str = "BRAIN";
pub const VISION: &str = "VISION";
pub const VOICE: &str = "VOICE";
pub const PRICING: &str = "PRICING";
pub const INVENTORY: &str = "INVENTORY";
pub const EBAY_SNIPER: &str = "EBAY_SNIPER";
pub const ANALYTICS: &str = "ANALYTICS";
pub const AR_GUIDE: &str = "AR_GUIDE";
pub const TRAINING: &str = "TRAINING";
pub const CHAT_AGENT: &str = "CHAT_AGENT";
pub const NOTIFICATIONS: &str = "NOTIFICATIONS";
pub const QC_INSPECTOR: &str = "QC_INSPECTOR";
pub const CUSTOMER_PORTAL: &str = "CUSTOMER_PORTAL";
pub const SCHEMATIC_ANALYZER: &str = "SCHEMATIC_ANALYZER";
pub const WORKFLOW_ORCHESTRATOR: &str = "WORKFLOW_ORCHESTRATOR";

/// All seventeen, the gateway first. Deploy order is the reverse of dependency: a worker's
/// service bindings must exist before it is deployed (see `deploy_order`).
pub static SERVICES: [ServiceSpec; 17] = [
    ServiceSpec {
        dir: "api-gateway",
        binding: API_GATEWAY,
        role: "the one public entry: authentication, rate limits, routing, request ids",
        bindings: &[
            kv(CACHE),
            object(GATE),
            // main's rooms: room WebSockets are handed to them directly.
            object(TICKET_ROOM),
            service(MAIN),
            service(BRAIN),
            service(VISION),
            service(VOICE),
            service(PRICING),
            service(INVENTORY),
            service(EBAY_SNIPER),
            service(ANALYTICS),
            service(AR_GUIDE),
            service(TRAINING),
            service(CHAT_AGENT),
            service(NOTIFICATIONS),
            service(QC_INSPECTOR),
            service(CUSTOMER_PORTAL),
            service(SCHEMATIC_ANALYZER),
            service(WORKFLOW_ORCHESTRATOR),
        ],
        consumes: &[],
        classes: &["Gate"],
    },
    ServiceSpec {
        dir: "main",
        binding: MAIN,
        role: "core: auth, users, workspaces, devices, tickets, ticket rooms",
        bindings: &[
            d1(DB),
            kv(CACHE),
            r2(UPLOADS),
            queue(EVENTS),
            queue(JOBS),
            queue(NOTIFY),
            object(TICKET_ROOM),
            object(REPAIR_SESSION),
            object(AUDIT_LOG),
            // chat-agent's sessions: main closes a person's chat sockets when their rights change.
            object(CHAT_SESSION),
            // The gateway's per-user gate: main bumps auth epochs and revokes sessions there.
            object(GATE),
            service(NOTIFICATIONS),
        ],
        consumes: &[],
        classes: &["TicketRoom", "RepairSession", "AuditLog"],
    },
    ServiceSpec {
        dir: "brain",
        binding: BRAIN,
        role: "AI diagnostics, failure prediction, repair plans, reports",
        // JOBS: scans it starts run on its own queue; MAIN: refusals to the audit chain and
        // fixes through remote sessions; NOTIFICATIONS: reports by email.
        bindings: &[
            d1(DB),
            kv(CACHE),
            r2(UPLOADS),
            queue(EVENTS),
            queue(JOBS),
            service(VISION),
            service(MAIN),
            service(NOTIFICATIONS),
        ],
        consumes: &[queues::JOBS],
        classes: &[],
    },
    ServiceSpec {
        dir: "vision",
        binding: VISION,
        role: "PCB image analysis against golden references",
        // MAIN: refusals to the audit chain.
        bindings: &[d1(DB), r2(UPLOADS), queue(EVENTS), service(MAIN)],
        consumes: &[],
        classes: &[],
    },
    ServiceSpec {
        dir: "voice",
        binding: VOICE,
        role: "text-to-speech, voice profiles, audio cache",
        bindings: &[d1(DB), kv(CACHE), r2(UPLOADS)],
        consumes: &[],
        classes: &[],
    },
    ServiceSpec {
        dir: "pricing",
        binding: PRICING,
        role: "quotes, packages, price lists, margins",
        bindings: &[d1(DB), kv(CACHE), queue(EVENTS), service(MAIN), service(INVENTORY)],
        consumes: &[],
        classes: &[],
    },
    ServiceSpec {
        dir: "inventory",
        binding: INVENTORY,
        role: "parts, stock, suppliers, purchase orders, reorder forecasts",
        bindings: &[d1(DB), kv(CACHE), queue(EVENTS)],
        consumes: &[],
        classes: &[],
    },
    ServiceSpec {
        dir: "ebay-sniper",
        binding: EBAY_SNIPER,
        role: "parts deal hunting: listing watches, margin analysis, approved purchases",
        // INVENTORY: the part a deal is judged against, and the purchase order an approved
        // deal becomes; MAIN: purchase decisions and refusals to the audit chain.
        bindings: &[d1(DB), kv(CACHE), queue(EVENTS), service(BRAIN), service(MAIN), service(INVENTORY)],
        consumes: &[],
        classes: &[],
    },
    ServiceSpec {
        dir: "analytics",
        binding: ANALYTICS,
        role: "KPIs, technician performance, revenue, trends",
        bindings: &[d1(DB), kv(CACHE)],
        consumes: &[],
        classes: &[],
    },
    ServiceSpec {
        dir: "ar-guide",
        binding: AR_GUIDE,
        role: "step-by-step repair guides, 3D assets, live annotations",
        bindings: &[d1(DB), r2(UPLOADS), queue(EVENTS), object(ANNOTATION_ROOM)],
        consumes: &[],
        classes: &["AnnotationRoom"],
    },
    ServiceSpec {
        dir: "training",
        binding: TRAINING,
        role: "gamified technician training: simulations, XP, certifications",
        bindings: &[d1(DB), kv(CACHE)],
        consumes: &[],
        classes: &[],
    },
    ServiceSpec {
        dir: "chat-agent",
        binding: CHAT_AGENT,
        role: "real-time assistant over WebSocket with human escalation",
        bindings: &[d1(DB), kv(CACHE), object(CHAT_SESSION), queue(EVENTS), service(MAIN)],
        consumes: &[],
        classes: &["ChatSession"],
    },
    ServiceSpec {
        dir: "notifications",
        binding: NOTIFICATIONS,
        role: "email, SMS, web push, Slack/Discord, in-app; delivery log",
        // In-app notices go into each person's inbox room, a `TicketRoom` of main's.
        // main's objects: in-app notices go to inbox rooms, refusals to the audit chain.
        bindings: &[d1(DB), kv(CACHE), queue(NOTIFY), object(TICKET_ROOM), object(AUDIT_LOG)],
        consumes: &[queues::NOTIFY],
        classes: &[],
    },
    ServiceSpec {
        dir: "qc-inspector",
        binding: QC_INSPECTOR,
        role: "checkpoint inspections, defect detection, QC reports",
        // main moves the ticket out of QC and attaches the report; vision runs photo checkpoints.
        bindings: &[d1(DB), r2(UPLOADS), queue(EVENTS), service(MAIN), service(VISION)],
        consumes: &[],
        classes: &[],
    },
    ServiceSpec {
        dir: "customer-portal",
        binding: CUSTOMER_PORTAL,
        role: "the customer web app: account, tickets, quotes, payments, loyalty",
        bindings: &[d1(DB), kv(CACHE), queue(EVENTS), service(MAIN), service(PRICING), assets(ASSETS)],
        consumes: &[],
        classes: &[],
    },
    ServiceSpec {
        dir: "schematic-analyzer",
        binding: SCHEMATIC_ANALYZER,
        role: "netlist import, net tracing, power rails, fault patterns",
        // main: suspects written to a ticket as a note, and refusals to the audit chain.
        bindings: &[d1(DB), kv(CACHE), r2(UPLOADS), service(MAIN)],
        consumes: &[],
        classes: &[],
    },
    ServiceSpec {
        dir: "workflow-orchestrator",
        binding: WORKFLOW_ORCHESTRATOR,
        role: "automation engine; routes the event bus; keeps every dead letter",
        bindings: &[
            d1(DB),
            queue(NOTIFY),
            queue(WORKFLOWS),
            object(WORKFLOW_RUN),
            service(MAIN),
            service(BRAIN),
            service(VISION),
            service(PRICING),
            service(INVENTORY),
            service(EBAY_SNIPER),
            service(NOTIFICATIONS),
            // Every new bus event is handed on to analytics' read models and training's XP.
            service(ANALYTICS),
            service(TRAINING),
        ],
        consumes: &[
            queues::EVENTS,
            queues::WORKFLOWS,
            queues::EVENTS_DLQ,
            queues::JOBS_DLQ,
            queues::NOTIFY_DLQ,
            queues::WORKFLOWS_DLQ,
        ],
        classes: &["WorkflowRun"],
    },
];

/// The spec of the worker in `workers/<dir>`.
pub fn spec(dir: &str) -> Option<&'static ServiceSpec> {
    SERVICES.iter().find(|s| s.dir == dir)
}

/// The spec of the worker bound as `binding`.
pub fn by_binding(binding: &str) -> Option<&'static ServiceSpec> {
    SERVICES.iter().find(|s| s.binding == binding)
}

/// `/api/v1/<area>/…` → the service binding of the worker that owns the area.
pub static AREAS: [(&str, &str); 34] = [
    ("analytics", ANALYTICS),
    ("audit", MAIN),
    ("auth", MAIN),
    ("chat", CHAT_AGENT),
    ("deals", EBAY_SNIPER),
    ("dev", MAIN),
    ("devices", MAIN),
    ("diagnostics", BRAIN),
    ("guides", AR_GUIDE),
    ("inventory", INVENTORY),
    ("invoices", CUSTOMER_PORTAL),
    ("loyalty", CUSTOMER_PORTAL),
    ("notifications", NOTIFICATIONS),
    ("parts", INVENTORY),
    ("payments", CUSTOMER_PORTAL),
    ("portal", CUSTOMER_PORTAL),
    ("predictions", BRAIN),
    ("pricing", PRICING),
    ("purchase-orders", INVENTORY),
    ("qc", QC_INSPECTOR),
    ("reports", BRAIN),
    ("schematics", SCHEMATIC_ANALYZER),
    ("sessions", MAIN),
    ("suppliers", INVENTORY),
    ("tickets", MAIN),
    ("training", TRAINING),
    ("users", MAIN),
    ("vision", VISION),
    ("voice", VOICE),
    ("watches", EBAY_SNIPER),
    ("webhooks", CUSTOMER_PORTAL),
    ("tasks", WORKFLOW_ORCHESTRATOR),
    ("workflows", WORKFLOW_ORCHESTRATOR),
    ("workspaces", MAIN),
];

/// The owner of an API area, if the area exists.
pub fn owner_of_area(area: &str) -> Option<&'static str> {
    AREAS.iter().find(|(a, _)| *a == area).map(|(_, owner)| *owner)
}

/// The order to deploy in: every worker after the workers it binds to.
pub fn deploy_order() -> Vec<&'static ServiceSpec> {
    let mut done: Vec<&'static ServiceSpec> = Vec::with_capacity(SERVICES.len());
    while done.len() < SERVICES.len() {
        let before = done.len();
        for s in SERVICES.iter() {
            if done.iter().any(|d| d.dir == s.dir) {
                continue;
            }
            let ready = s
                .bindings
                .iter()
                .filter(|b| b.kind == BindingKind::Service)
                .all(|b| done.iter().any(|d| d.binding == b.name));
            if ready {
                done.push(s);
            }
        }
        if done.len() == before {
            // A cycle: deploy the rest in catalogue order; wrangler tolerates a binding to
            // a worker that is deployed moments later only on a second pass.
            for s in SERVICES.iter() {
                if !done.iter().any(|d| d.dir == s.dir) {
                    done.push(s);
                }
            }
        }
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn there_are_seventeen_services_with_unique_dirs_and_bindings() {
        let mut dirs: Vec<_> = SERVICES.iter().map(|s| s.dir).collect();
        let mut names: Vec<_> = SERVICES.iter().map(|s| s.binding).collect();
        dirs.sort();
        dirs.dedup();
        names.sort();
        names.dedup();
        assert_eq!(dirs.len(), 17);
        assert_eq!(names.len(), 17);
    }

    #[test]
    fn every_area_is_owned_by_a_known_service_and_listed_once() {
        let mut areas: Vec<_> = AREAS.iter().map(|(a, _)| *a).collect();
        areas.sort();
        let before = areas.len();
        areas.dedup();
        assert_eq!(areas.len(), before, "an area is listed twice");
        for (area, owner) in AREAS.iter() {
            assert!(by_binding(owner).is_some(), "area {area} owned by unknown {owner}");
        }
        assert_eq!(owner_of_area("tickets"), Some(MAIN));
        assert_eq!(owner_of_area("nope"), None);
    }

    #[test]
    fn every_service_binding_points_at_a_known_worker() {
        for s in SERVICES.iter() {
            for b in s.bindings.iter().filter(|b| b.kind == BindingKind::Service) {
                assert!(by_binding(b.name).is_some(), "{} binds unknown {}", s.dir, b.name);
                assert_ne!(b.name, s.binding, "{} binds itself", s.dir);
            }
        }
    }

    #[test]
    fn each_queue_has_exactly_one_consumer() {
        for q in queues::ALL {
            let dlq = queues::dead_letter_of(q).unwrap_or_default();
            for name in [q, dlq] {
                let consumers = SERVICES.iter().filter(|s| s.consumes.contains(&name)).count();
                assert_eq!(consumers, 1, "queue {name} has {consumers} consumers");
            }
        }
    }

    #[test]
    fn deploy_order_puts_every_worker_after_its_dependencies() {
        let order = deploy_order();
        assert_eq!(order.len(), 17);
        for (i, s) in order.iter().enumerate() {
            for b in s.bindings.iter().filter(|b| b.kind == BindingKind::Service) {
                let dep = order.iter().position(|d| d.binding == b.name);
                assert!(dep.is_some_and(|d| d < i), "{} deployed before {}", s.dir, b.name);
            }
        }
        assert_eq!(order.last().map(|s| s.dir), Some("api-gateway"));
    }
}
