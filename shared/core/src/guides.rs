//! Repair guides (issue 15): steps with text, images, tools, warnings and expected time,
//! each able to point at a node of the guide's 3D model with a camera view; the model is a
//! glTF 2.0 file read and validated by the `gltf` crate, its nodes listed with where they
//! sit (so a page can mark the part a step is about).

use serde::{Deserialize, Serialize};

use crate::error::invalid;
pub use crate::error::Invalid;

/// A step's view of the model, in `<model-viewer>`'s terms: `orbit` is
/// `"<theta> <phi> <radius>"` (`45deg 60deg 2m`), `target` is `"<x> <y> <z>"` (`0m 0.1m 0m`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Camera {
    #[serde(default)]
    pub orbit: Option<String>,
    #[serde(default)]
    pub target: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub title: String,
    pub text: String,
    #[serde(default)]
    pub tools: Vec<String>,
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Expected time, in minutes.
    #[serde(default)]
    pub minutes: u32,
    /// Image assets (ids) shown with the step.
    #[serde(default)]
    pub images: Vec<String>,
    /// The model node the step is about (the part to look at).
    #[serde(default)]
    pub node: Option<String>,
    #[serde(default)]
    pub camera: Option<Camera>,
}

pub const MAX_STEPS: usize = 100;

/// A `<model-viewer>` length or angle: a number with a unit, or `auto`.
fn camera_value(token: &str, units: &[&str]) -> bool {
    if token == "auto" {
        return true;
    }
    units.iter().any(|u| token.strip_suffix(u).is_some_and(|n| n.parse::<f64>().is_ok_and(f64::is_finite)))
}

fn check_camera(field: &str, c: &Camera) -> Result<(), Invalid> {
    let ok = |v: &Option<String>, units: &[&str]| {
        v.as_deref().is_none_or(|v| {
            let tokens: Vec<&str> = v.split_whitespace().collect();
            tokens.len() == 3 && tokens.iter().all(|t| camera_value(t, units))
        })
    };
    if !ok(&c.orbit, &["deg", "rad", "m", "cm", "mm", "%"]) {
        return Err(invalid(field, "camera.orbit is \"<theta> <phi> <radius>\", e.g. \"45deg 60deg 2m\""));
    }
    if !ok(&c.target, &["m", "cm", "mm"]) {
        return Err(invalid(field, "camera.target is \"<x> <y> <z>\", e.g. \"0m 0.1m 0m\""));
    }
    Ok(())
}

/// Refuses steps a technician could not follow: none or too many, an empty title or text,
/// overlong lists, a node the model does not have (`nodes`: the model's node names, or
/// `None` for a guide without a model, where no step may name a node).
pub fn check_steps(steps: &[Step], nodes: Option<&[String]>) -> Result<(), Invalid> {
    if steps.is_empty() || steps.len() > MAX_STEPS {
        return Err(invalid("steps", format!("a guide has 1 to {MAX_STEPS} steps")));
    }
    for (i, s) in steps.iter().enumerate() {
        let field = format!("steps[{i}]");
        let n = i + 1;
        if s.title.trim().is_empty() || s.title.chars().count() > 120 {
            return Err(invalid(&field, format!("step {n}: a title of 1 to 120 characters")));
        }
        if s.text.trim().is_empty() || s.text.chars().count() > 4000 {
            return Err(invalid(&field, format!("step {n}: instructions of 1 to 4000 characters")));
        }
        let short = |list: &[String], max: usize, len: usize| {
            list.len() <= max && list.iter().all(|t| !t.trim().is_empty() && t.chars().count() <= len)
        };
        if !short(&s.tools, 20, 80) {
            return Err(invalid(&field, format!("step {n}: at most 20 tools of 1 to 80 characters")));
        }
        if !short(&s.warnings, 10, 300) {
            return Err(invalid(&field, format!("step {n}: at most 10 warnings of 1 to 300 characters")));
        }
        if s.minutes > 600 {
            return Err(invalid(&field, format!("step {n}: expected time is 0 to 600 minutes")));
        }
        if s.images.len() > 6 {
            return Err(invalid(&field, format!("step {n}: at most 6 images")));
        }
        if let Some(node) = &s.node {
            match nodes {
                None => {
                    return Err(invalid(&field, format!("step {n}: names node {node}, but the guide has no model")))
                }
                Some(names) if !names.iter().any(|x| x == node) => {
                    return Err(invalid(
                        &field,
                        format!("step {n}: the model has no node {node} (it has {})", names.join(", ")),
                    ))
                }
                _ => {}
            }
        }
        if let Some(c) = &s.camera {
            check_camera(&field, c)?;
        }
    }
    Ok(())
}

/// A model node: its name and, for one with a mesh, the centre of its mesh's bounds in the
/// model's space (where a page puts the marker for "look here").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelNode {
    pub name: String,
    pub center: Option<[f32; 3]>,
}

/// What a validated model holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// `glb` or `gltf`.
    pub format: String,
    pub generator: Option<String>,
    pub nodes: Vec<ModelNode>,
    pub meshes: usize,
}

impl Model {
    pub fn node_names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.name.clone()).collect()
    }
}

type Mat4 = [[f32; 4]; 4];

fn mul(a: &Mat4, b: &Mat4) -> Mat4 {
    let mut m = [[0.0; 4]; 4];
    for (c, col) in m.iter_mut().enumerate() {
        for (r, cell) in col.iter_mut().enumerate() {
            *cell = (0..4).map(|k| a[k][r] * b[c][k]).sum();
        }
    }
    m
}

fn apply(m: &Mat4, p: [f32; 3]) -> [f32; 3] {
    let v = [p[0], p[1], p[2], 1.0];
    let mut out = [0.0; 3];
    for (r, o) in out.iter_mut().enumerate() {
        *o = (0..4).map(|c| m[c][r] * v[c]).sum();
    }
    out
}

const IDENTITY: Mat4 = [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]];

/// Reads and validates a glTF 2.0 model (binary `.glb`, or `.gltf` JSON whose buffers are
/// embedded): its structure, indices and binary chunk, as the `gltf` crate checks them.
/// Refuses external buffers (a `.gltf` beside its `.bin`) and nameless nodes are named by
/// index (`node 3`).
pub fn read_model(bytes: &[u8]) -> Result<Model, String> {
    let glb = bytes.starts_with(b"glTF");
    let gltf = gltf::Gltf::from_slice(bytes).map_err(|e| format!("not a valid glTF 2.0 model: {e}"))?;
    let version = &gltf.document.as_json().asset.version;
    if !version.starts_with("2.") {
        return Err(format!("glTF {version} is not supported: export the model as glTF 2.0 (.glb)"));
    }
    for buffer in gltf.buffers() {
        if let gltf::buffer::Source::Uri(uri) = buffer.source() {
            if !uri.starts_with("data:") {
                return Err(format!(
                    "buffer {} lives in another file ({uri}): export the model as one .glb",
                    buffer.index()
                ));
            }
        }
    }
    let name_of = |n: &gltf::Node| n.name().map(str::to_owned).unwrap_or_else(|| format!("node {}", n.index()));
    let mut centers: Vec<Option<[f32; 3]>> = vec![None; gltf.nodes().count()];
    fn walk(node: gltf::Node, parent: &Mat4, centers: &mut Vec<Option<[f32; 3]>>, depth: usize) {
        if depth > 64 {
            return;
        }
        let world = mul(parent, &node.transform().matrix());
        if let Some(mesh) = node.mesh() {
            let mut lo = [f32::MAX; 3];
            let mut hi = [f32::MIN; 3];
            for p in mesh.primitives() {
                let b = p.bounding_box();
                for k in 0..3 {
                    lo[k] = lo[k].min(b.min[k]);
                    hi[k] = hi[k].max(b.max[k]);
                }
            }
            if lo[0] <= hi[0] {
                let mid = [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0, (lo[2] + hi[2]) / 2.0];
                if let Some(slot) = centers.get_mut(node.index()) {
                    *slot = Some(apply(&world, mid));
                }
            }
        }
        for child in node.children() {
            walk(child, &world, centers, depth + 1);
        }
    }
    let scene = gltf.default_scene().or_else(|| gltf.scenes().next());
    if let Some(scene) = scene {
        for node in scene.nodes() {
            walk(node, &IDENTITY, &mut centers, 0);
        }
    }
    let nodes = gltf
        .nodes()
        .map(|n| ModelNode { name: name_of(&n), center: centers.get(n.index()).copied().flatten() })
        .collect();
    Ok(Model {
        format: if glb { "glb".into() } else { "gltf".into() },
        generator: gltf.document.as_json().asset.generator.clone(),
        nodes,
        meshes: gltf.meshes().count(),
    })
}

/// A point on the viewer, as fractions of its width and height (0–1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    Marker,
    Arrow,
    Note,
}

/// A live annotation frame (`{"type":"annotate","op":"add"|"remove",…}`): a marker, an
/// arrow or a note pinned to a model node or a point of the view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Annotate {
    Add {
        #[serde(default)]
        id: Option<String>,
        shape: Shape,
        #[serde(default)]
        node: Option<String>,
        #[serde(default)]
        point: Option<Point>,
        /// An arrow's head.
        #[serde(default)]
        to: Option<Point>,
        #[serde(default)]
        text: Option<String>,
        /// `#rrggbb`.
        #[serde(default)]
        color: Option<String>,
        /// The guide step it belongs to.
        #[serde(default)]
        step: Option<u32>,
    },
    Remove {
        id: String,
    },
}

impl Annotate {
    /// Reads a client frame (its `type` aside), refusing what a room should not keep.
    pub fn read(frame: &serde_json::Value) -> Result<Annotate, String> {
        let mut frame = frame.clone();
        if let Some(map) = frame.as_object_mut() {
            map.remove("type");
        }
        let a: Annotate = serde_json::from_value(frame).map_err(|e| format!("an annotation: {e}"))?;
        a.check()?;
        Ok(a)
    }

    fn check(&self) -> Result<(), String> {
        let id_ok = |id: &str| !id.is_empty() && id.len() <= 40 && crate::names::is_plain_id(id);
        match self {
            Annotate::Remove { id } if !id_ok(id) => Err("remove names the annotation's id".into()),
            Annotate::Remove { .. } => Ok(()),
            Annotate::Add { id, shape, node, point, to, text, color, .. } => {
                if id.as_deref().is_some_and(|i| !id_ok(i)) {
                    return Err("an id is 1 to 40 letters, digits, '-' or '_'".into());
                }
                if node.is_none() && point.is_none() {
                    return Err("pin the annotation to a node or a point".into());
                }
                if node.as_deref().is_some_and(|n| n.is_empty() || n.chars().count() > 120) {
                    return Err("a node name is 1 to 120 characters".into());
                }
                let inside = |p: &Point| (0.0..=1.0).contains(&p.x) && (0.0..=1.0).contains(&p.y);
                if !point.iter().chain(to.iter()).all(inside) {
                    return Err("points are fractions of the view, 0 to 1".into());
                }
                if *shape == Shape::Arrow && to.is_none() {
                    return Err("an arrow needs its head: to {x, y}".into());
                }
                if *shape == Shape::Note && text.as_deref().is_none_or(|t| t.trim().is_empty()) {
                    return Err("a note needs its text".into());
                }
                if text.as_deref().is_some_and(|t| t.chars().count() > 500) {
                    return Err("annotation text is at most 500 characters".into());
                }
                let hex = |c: &str| c.len() == 7 && c.starts_with('#') && c[1..].bytes().all(|b| b.is_ascii_hexdigit());
                if color.as_deref().is_some_and(|c| !hex(c)) {
                    return Err("a colour is #rrggbb".into());
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/data/models/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn a_real_blender_export_lists_its_named_parts_where_they_sit() {
        let m = read_model(&model("ShapeCollection.glb")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.format, "glb");
        assert_eq!(m.meshes, 6);
        assert_eq!(m.node_names(), ["Sphere", "Icosphere", "Cylinder", "Cube", "Cone", "Torus", "Torus.001"]);
        assert!(m.generator.as_deref().is_some_and(|g| g.contains("Blender")));
        let centers: Vec<[f32; 3]> = m.nodes.iter().filter_map(|n| n.center).collect();
        assert!(centers.len() >= 6, "every mesh node has a centre: {m:?}");
        let distinct = centers.windows(2).any(|w| (w[0][0] - w[1][0]).abs() > 0.1 || (w[0][2] - w[1][2]).abs() > 0.1);
        assert!(distinct, "the shapes sit apart: {centers:?}");
        // Khronos' Box (COLLADA2GLTF): nameless nodes are named by index.
        let b = read_model(&model("Box.glb")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(b.node_names(), ["node 0", "node 1"]);
    }

    #[test]
    fn broken_models_are_refused() {
        let good = model("Box.glb");
        assert!(read_model(&good[..good.len() / 2]).is_err(), "truncated");
        assert!(read_model(b"not a model").is_err());
        let external = br#"{"asset":{"version":"2.0"},"buffers":[{"uri":"box.bin","byteLength":8}]}"#;
        assert!(read_model(external).is_err_and(|e| e.contains("another file")));
        assert!(read_model(br#"{"asset":{"version":"1.0"}}"#).is_err(), "glTF 1.0");
    }

    #[test]
    fn steps_are_checked_against_the_model() {
        let step = |node: Option<&str>| Step {
            title: "Open the case".into(),
            text: "Remove the four screws.".into(),
            tools: vec!["PH00 screwdriver".into()],
            warnings: vec![],
            minutes: 5,
            images: vec![],
            node: node.map(str::to_owned),
            camera: Some(Camera { orbit: Some("45deg 60deg 2m".into()), target: None }),
        };
        let nodes = vec!["Cube".to_owned(), "Cylinder".to_owned()];
        assert_eq!(check_steps(&[step(Some("Cube"))], Some(&nodes)), Ok(()));
        assert!(check_steps(&[step(Some("Lid"))], Some(&nodes)).is_err_and(|e| e.message.contains("no node Lid")));
        assert!(check_steps(&[step(Some("Cube"))], None).is_err());
        assert!(check_steps(&[], None).is_err());
        let mut bad_camera = step(None);
        bad_camera.camera = Some(Camera { orbit: Some("sideways".into()), target: None });
        assert!(check_steps(&[bad_camera], None).is_err_and(|e| e.field == "steps[0]"));
    }

    #[test]
    fn annotations_are_pinned_and_bounded() {
        use serde_json::json;
        let arrow = json!({ "type": "annotate", "op": "add", "shape": "arrow", "point": { "x": 0.2, "y": 0.3 },
                            "to": { "x": 0.5, "y": 0.5 }, "color": "#ff8800" });
        assert!(Annotate::read(&arrow).is_ok());
        let on_node = json!({ "op": "add", "shape": "note", "node": "Cylinder", "text": "bulging cap" });
        assert!(Annotate::read(&on_node).is_ok());
        for bad in [
            json!({ "op": "add", "shape": "marker" }),
            json!({ "op": "add", "shape": "arrow", "point": { "x": 0.2, "y": 0.3 } }),
            json!({ "op": "add", "shape": "note", "node": "Cube" }),
            json!({ "op": "add", "shape": "marker", "point": { "x": 1.5, "y": 0.3 } }),
            json!({ "op": "add", "shape": "marker", "node": "Cube", "color": "red" }),
            json!({ "op": "remove", "id": "" }),
            json!({ "op": "explode" }),
        ] {
            assert!(Annotate::read(&bad).is_err(), "{bad}");
        }
    }
}
