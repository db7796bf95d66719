//! A KiCad netlist (the S-expression export, version `D` from KiCad 5 and earlier, `E`
//! from KiCad 6 on) read into components and nets, every pin with its type: KiCad 6+
//! writes `pintype` on each node; earlier versions only in `libparts`, joined here.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::sexpr::{self, Sexp, SyntaxError};

/// What a part is, from its reference prefix and library part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Resistor,
    Capacitor,
    Inductor,
    Ferrite,
    Diode,
    Led,
    Transistor,
    Ic,
    Regulator,
    Connector,
    Crystal,
    Fuse,
    Jumper,
    Switch,
    TestPoint,
    MountingHole,
    Other,
}

impl Kind {
    /// Parts a DC path runs through in series: what net tracing follows.
    pub fn conducts(self) -> bool {
        matches!(self, Kind::Resistor | Kind::Inductor | Kind::Ferrite | Kind::Jumper | Kind::Fuse)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Component {
    pub reference: String,
    pub value: String,
    pub footprint: Option<String>,
    pub datasheet: Option<String>,
    pub lib: Option<String>,
    pub part: Option<String>,
    pub description: Option<String>,
    /// User fields: `Manufacturer`, `Part Number`, `MPN` …
    pub fields: BTreeMap<String, String>,
    /// The hierarchical sheet it is on (`/mcu/usb/power/`).
    pub sheet: Option<String>,
    pub kind: Kind,
}

impl Component {
    /// Its manufacturer part number, if a field gives one.
    pub fn part_number(&self) -> Option<&str> {
        ["Part Number", "MPN", "Manufacturer_Part_Number", "Mfr. No", "PartNumber", "LCSC"]
            .iter()
            .find_map(|k| self.fields.iter().find(|(name, _)| name.eq_ignore_ascii_case(k)).map(|(_, v)| v.as_str()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub reference: String,
    pub pin: String,
    /// The pin's name on the symbol (`VIN`, `SW1`, `GND`).
    pub function: Option<String>,
    /// `input`, `output`, `bidirectional`, `passive`, `power_in`, `power_out`, …
    pub pin_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Net {
    pub code: String,
    pub name: String,
    pub nodes: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Netlist {
    /// `D` (KiCad ≤ 5) or `E` (KiCad ≥ 6).
    pub version: String,
    pub source: Option<String>,
    pub tool: Option<String>,
    pub components: Vec<Component>,
    pub nets: Vec<Net>,
    /// Pins the symbols have but no net reaches: `(ref, pin, name, type)` (from libparts).
    pub unconnected: Vec<Node>,
}

/// KiCad's pin type words, old and new, in one spelling.
fn pin_type(raw: &str) -> String {
    match raw.to_ascii_lowercase().as_str() {
        "bidi" | "bidirectional" => "bidirectional".into(),
        "3state" | "tri_state" | "tristate" => "tri_state".into(),
        "notconnected" | "no_connect" | "unconnected" => "no_connect".into(),
        "openemitter" | "open_emitter" => "open_emitter".into(),
        "opencollector" | "open_collector" => "open_collector".into(),
        "unspc" | "unspecified" => "unspecified".into(),
        "free" => "free".into(),
        other => other.to_owned(),
    }
}

const REGULATOR_WORDS: [&str; 16] = [
    "78", "79", "LM317", "LM1117", "AMS1117", "LDO", "REG", "TPS", "LT1", "LT3", "MCP17", "AP2112", "XC62", "BUCK",
    "BOOST", "DC-DC",
];

/// The kind of a part from its reference prefix, library part, value and description.
pub fn classify(reference: &str, part: &str, value: &str, description: &str) -> Kind {
    let prefix: String = reference.chars().take_while(|c| c.is_ascii_alphabetic()).collect::<String>().to_uppercase();
    let words = format!("{part} {value} {description}").to_uppercase();
    let regulator = || {
        words.contains("REGULATOR")
            || words.contains("BUCK")
            || words.contains("LDO")
            || REGULATOR_WORDS.iter().any(|w| part.to_uppercase().starts_with(w) || value.to_uppercase().starts_with(w))
                && !words.contains("74")
    };
    match prefix.as_str() {
        "U" | "IC" | "VR" | "PS" if regulator() => Kind::Regulator,
        "R" | "RN" | "RV" | "VR" => Kind::Resistor,
        "C" | "CP" => Kind::Capacitor,
        "FB" | "FL" => Kind::Ferrite,
        "L" if words.contains("FERRITE") || words.contains("BEAD") => Kind::Ferrite,
        "L" => Kind::Inductor,
        "D" if words.contains("LED") => Kind::Led,
        "D" | "CR" | "ZD" | "TVS" => Kind::Diode,
        "LED" => Kind::Led,
        "Q" | "T" | "M" => Kind::Transistor,
        "U" | "IC" | "N" => Kind::Ic,
        "J" | "P" | "CN" | "CON" | "X" | "USB" => Kind::Connector,
        "Y" | "XTAL" | "OSC" => Kind::Crystal,
        "F" | "PTC" => Kind::Fuse,
        "JP" | "SJ" | "NT" => Kind::Jumper,
        "SW" | "S" | "K" => Kind::Switch,
        "TP" => Kind::TestPoint,
        "MH" | "H" => Kind::MountingHole,
        _ => Kind::Other,
    }
}

/// Why a netlist cannot be read: the line and what was wrong.
pub type Error = SyntaxError;

fn at(node: &Sexp, message: impl Into<String>) -> Error {
    SyntaxError { line: node.line(), message: message.into() }
}

/// The symbols' pins, by library and part (aliases too): number → (name, type).
type PinTable = HashMap<(String, String), BTreeMap<String, (String, String)>>;

fn pin_table(root: &Sexp) -> PinTable {
    let mut table = PinTable::new();
    let Some(libparts) = root.child("libparts") else { return table };
    for lp in libparts.all("libpart") {
        let lib = lp.text_of("lib").unwrap_or_default().to_owned();
        let part = lp.text_of("part").unwrap_or_default().to_owned();
        let mut pins = BTreeMap::new();
        for pin in lp.child("pins").map(|p| p.all("pin").collect::<Vec<_>>()).unwrap_or_default() {
            if let Some(num) = pin.text_of("num") {
                let name = pin.text_of("name").unwrap_or_default().to_owned();
                pins.insert(num.to_owned(), (name, pin_type(pin.text_of("type").unwrap_or("unspecified"))));
            }
        }
        let aliases: Vec<String> = lp
            .child("aliases")
            .map(|a| a.all("alias").filter_map(|x| x.args().first().and_then(Sexp::atom)).map(str::to_owned).collect())
            .unwrap_or_default();
        for name in aliases {
            table.insert((lib.clone(), name), pins.clone());
        }
        table.insert((lib, part), pins);
    }
    table
}

/// Reads a netlist file. Refuses anything that is not a KiCad S-expression netlist, a
/// component twice, a node of a component that is not listed, a net without a name.
pub fn read(text: &str) -> Result<Netlist, Error> {
    let root = sexpr::parse(text)?;
    if root.head() != Some("export") {
        return Err(at(&root, "not a KiCad netlist: it starts with something other than (export …)"));
    }
    let version = root.text_of("version").unwrap_or("D").to_owned();
    if !matches!(version.as_str(), "D" | "E") {
        return Err(at(&root, format!("netlist version {version} is not one KiCad 5 to 8 writes (D or E)")));
    }
    let design = root.child("design");
    let pins = pin_table(&root);
    let mut components = Vec::new();
    let mut seen = BTreeSet::new();
    let mut comp_parts: HashMap<String, (String, String)> = HashMap::new();
    for comp in root.child("components").map(|c| c.all("comp").collect::<Vec<_>>()).unwrap_or_default() {
        let reference = comp.text_of("ref").ok_or_else(|| at(comp, "a component without (ref …)"))?.to_owned();
        if !seen.insert(reference.clone()) {
            return Err(at(comp, format!("component {reference} appears twice: annotate the schematic again")));
        }
        let libsource = comp.child("libsource");
        let lib = libsource.and_then(|l| l.text_of("lib")).map(str::to_owned);
        let part = libsource.and_then(|l| l.text_of("part")).map(str::to_owned);
        let description = libsource.and_then(|l| l.text_of("description")).filter(|d| !d.is_empty()).map(str::to_owned);
        let mut fields = BTreeMap::new();
        for f in comp.child("fields").map(|f| f.all("field").collect::<Vec<_>>()).unwrap_or_default() {
            if let (Some(name), Some(value)) = (f.text_of("name"), f.args().get(1).and_then(Sexp::atom)) {
                fields.insert(name.to_owned(), value.to_owned());
            }
        }
        for p in comp.all("property") {
            if let (Some(name), Some(value)) = (p.text_of("name"), p.text_of("value")) {
                if !matches!(name, "Sheetname" | "Sheetfile" | "ki_description" | "ki_keywords") && !value.is_empty() {
                    fields.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        let value = comp.text_of("value").unwrap_or_default().to_owned();
        let kind = classify(
            &reference,
            part.as_deref().unwrap_or_default(),
            &value,
            description.as_deref().or(fields.get("Description").map(String::as_str)).unwrap_or_default(),
        );
        comp_parts.insert(reference.clone(), (lib.clone().unwrap_or_default(), part.clone().unwrap_or_default()));
        components.push(Component {
            reference,
            value,
            footprint: comp.text_of("footprint").filter(|f| !f.is_empty()).map(str::to_owned),
            datasheet: comp.text_of("datasheet").filter(|d| !d.is_empty() && *d != "~").map(str::to_owned),
            lib,
            part,
            description,
            fields,
            sheet: comp.child("sheetpath").and_then(|s| s.text_of("names")).map(str::to_owned),
            kind,
        });
    }
    let symbol_pin = |reference: &str, pin: &str| -> Option<&(String, String)> {
        comp_parts.get(reference).and_then(|key| pins.get(key)).and_then(|p| p.get(pin))
    };
    let mut nets = Vec::new();
    let mut connected: BTreeSet<(String, String)> = BTreeSet::new();
    for net in root.child("nets").map(|n| n.all("net").collect::<Vec<_>>()).unwrap_or_default() {
        let name = net.text_of("name").filter(|n| !n.is_empty()).ok_or_else(|| at(net, "a net without a name"))?;
        let mut nodes = Vec::new();
        for node in net.all("node") {
            let reference = node.text_of("ref").ok_or_else(|| at(node, "a node without (ref …)"))?;
            let pin = node.text_of("pin").ok_or_else(|| at(node, "a node without (pin …)"))?;
            if !seen.contains(reference) {
                return Err(at(node, format!("net {name} connects {reference}, which is not among the components")));
            }
            let symbol = symbol_pin(reference, pin);
            let function = node
                .text_of("pinfunction")
                .map(str::to_owned)
                .or_else(|| symbol.map(|s| s.0.clone()))
                .filter(|f| !f.is_empty() && f != "~");
            let pin_type = node.text_of("pintype").map(pin_type).or_else(|| symbol.map(|s| s.1.clone()));
            connected.insert((reference.to_owned(), pin.to_owned()));
            nodes.push(Node { reference: reference.to_owned(), pin: pin.to_owned(), function, pin_type });
        }
        nets.push(Net { code: net.text_of("code").unwrap_or_default().to_owned(), name: name.to_owned(), nodes });
    }
    let mut unconnected = Vec::new();
    for c in &components {
        let Some(symbol) = comp_parts.get(&c.reference).and_then(|key| pins.get(key)) else { continue };
        for (num, (name, kind)) in symbol {
            if !connected.contains(&(c.reference.clone(), num.clone())) {
                unconnected.push(Node {
                    reference: c.reference.clone(),
                    pin: num.clone(),
                    function: Some(name.clone()).filter(|n| !n.is_empty() && n != "~"),
                    pin_type: Some(kind.clone()),
                });
            }
        }
    }
    Ok(Netlist {
        version,
        source: design.and_then(|d| d.text_of("source")).map(str::to_owned),
        tool: design.and_then(|d| d.text_of("tool")).map(str::to_owned),
        components,
        nets,
        unconnected,
    })
}
