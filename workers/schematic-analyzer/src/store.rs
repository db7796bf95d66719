//! What the handlers share: a schematic's row, and its netlist read back from D1.

use noizylab_core::auth::Scope;
use noizylab_core::schematic::netlist::{Component, Net, Netlist, Node};
use noizylab_kit::caller::Caller;
use noizylab_kit::{ApiError, ApiResult, Call, OrInternal};
use serde::{Deserialize, Serialize};

/// A schematic as the API shows it.
#[derive(Serialize, Deserialize)]
pub struct Schematic {
    pub id: String,
    pub name: String,
    pub board_model: Option<String>,
    pub device_type: Option<String>,
    pub format_version: String,
    pub tool: Option<String>,
    pub source: Option<String>,
    pub component_count: i64,
    pub net_count: i64,
    #[serde(skip_serializing)]
    pub unconnected: String,
    #[serde(skip_serializing)]
    pub r2_key: String,
    pub size: i64,
    pub sha256: String,
    pub created_by: String,
    pub created_at: String,
}

pub const COLUMNS: &str =
    "id, name, board_model, device_type, format_version, tool, source, component_count, net_count, \
                           unconnected, r2_key, size, sha256, created_by, created_at";

/// Schematic `id` of the caller's workspace, fully imported (else 404).
pub async fn schematic(call: &Call, who: &Caller, id: &str) -> ApiResult<Schematic> {
    call.sql()?
        .first(
            &format!("SELECT {COLUMNS} FROM schematics WHERE id = ?1 AND workspace_id = ?2 AND status = 'ready'"),
            &[id.into(), who.workspace.as_str().into()],
        )
        .await?
        .ok_or_else(|| ApiError::not_found(format!("schematic {id}")))
}

#[derive(Deserialize)]
struct PartRow {
    data: String,
}

#[derive(Deserialize)]
struct NetRow {
    code: String,
    name: String,
    nodes: String,
}

/// The schematic's netlist as it was imported.
pub async fn netlist(call: &Call, s: &Schematic) -> ApiResult<Netlist> {
    let db = call.sql()?;
    let parts: Vec<PartRow> =
        db.all("SELECT data FROM schematic_components WHERE schematic_id = ?1", &[s.id.as_str().into()]).await?;
    let nets: Vec<NetRow> = db
        .all(
            "SELECT code, name, nodes FROM schematic_nets WHERE schematic_id = ?1 ORDER BY CAST(code AS INTEGER), name",
            &[s.id.as_str().into()],
        )
        .await?;
    let components = parts
        .iter()
        .map(|p| serde_json::from_str::<Component>(&p.data))
        .collect::<Result<Vec<_>, _>>()
        .or_internal("stored component")?;
    let nets = nets
        .into_iter()
        .map(|n| Ok(Net { code: n.code, name: n.name, nodes: serde_json::from_str::<Vec<Node>>(&n.nodes)? }))
        .collect::<Result<Vec<_>, serde_json::Error>>()
        .or_internal("stored net")?;
    Ok(Netlist {
        version: s.format_version.clone(),
        source: s.source.clone(),
        tool: s.tool.clone(),
        components,
        nets,
        unconnected: serde_json::from_str(&s.unconnected).or_internal("stored unconnected pins")?,
    })
}

/// For a question about schematic `id`: the caller must be staff with `ai:diagnose`; the
/// schematic and its netlist.
pub async fn open(call: &Call, id: &str) -> ApiResult<(Schematic, Netlist)> {
    let who = Caller::staff_with(call, Scope::AiDiagnose).await?;
    let s = schematic(call, &who, id).await?;
    let parsed = netlist(call, &s).await?;
    Ok((s, parsed))
}

/// Deletes schematic `id` with its parts and nets, in one batch.
pub async fn delete(call: &Call, id: &str) -> ApiResult<()> {
    let db = call.sql()?;
    db.batch(vec![
        db.statement("DELETE FROM schematic_components WHERE schematic_id = ?1", &[id.into()])?,
        db.statement("DELETE FROM schematic_nets WHERE schematic_id = ?1", &[id.into()])?,
        db.statement("DELETE FROM schematics WHERE id = ?1", &[id.into()])?,
    ])
    .await
}
