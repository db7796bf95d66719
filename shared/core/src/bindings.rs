//! Binding names, as declared in each worker's `wrangler.toml`.
//!
//! Handlers never spell a binding name themselves; they go through these constants so a
//! rename is one edit and a typo is a compile error.

/// D1 `noizylab-db`: the source of truth.
pub const DB: &str = "DB";
/// KV `CACHE`: TTL caches (never counters, single-use tokens or revocation).
pub const CACHE: &str = "CACHE";
/// R2 `noizylab-uploads`: photos, schematics, audio, documents, models.
pub const UPLOADS: &str = "UPLOADS";

/// Workers Static Assets: files served as they are (the customer portal's API docs page
/// renderer and the assembled OpenAPI document), read with `env.assets(ASSETS)`.
pub const ASSETS: &str = "ASSETS";

/// Queue producer bindings.
pub const EVENTS: &str = "EVENTS";
pub const JOBS: &str = "JOBS";
pub const NOTIFY: &str = "NOTIFY";
pub const WORKFLOWS: &str = "WORKFLOWS";

/// Durable Object namespaces.
pub const GATE: &str = "GATE";
pub const TICKET_ROOM: &str = "TICKET_ROOM";
pub const REPAIR_SESSION: &str = "REPAIR_SESSION";
pub const CHAT_SESSION: &str = "CHAT_SESSION";
pub const ANNOTATION_ROOM: &str = "ANNOTATION_ROOM";
/// One workflow run (the orchestrator's `WorkflowRun`), by the run's id.
pub const WORKFLOW_RUN: &str = "WORKFLOW_RUN";
/// The audit chain's single appender (in `main`).
pub const AUDIT_LOG: &str = "AUDIT_LOG";

/// The secret every worker shares to sign and verify the internal identity header.
pub const INTERNAL_SECRET: &str = "INTERNAL_SECRET";
/// `development` or `production`.
pub const ENVIRONMENT: &str = "ENVIRONMENT";
