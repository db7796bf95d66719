//! What a technician asks of a netlist: a part's pins and nets, what a net reaches through
//! series parts, the path between two parts, the power rails as a tree from the input
//! connector down, rule checks, and for a symptom ("no 3V3", "shorted 5V") the parts to
//! check in the order a bench would.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::netlist::{Component, Kind, Net, Netlist, Node};

/// The netlist with its indexes.
pub struct Board<'a> {
    pub netlist: &'a Netlist,
    parts: HashMap<&'a str, &'a Component>,
    /// Each part's connected pins: (pin, net index).
    pins: HashMap<&'a str, Vec<(&'a Node, usize)>>,
    by_name: HashMap<&'a str, usize>,
}

/// One pin of a part, with the net on it (none: unconnected).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PinView {
    pub pin: String,
    pub function: Option<String>,
    pub pin_type: Option<String>,
    pub net: Option<String>,
}

/// A step of a traced path: a net, or the part crossed to the next net.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    Net { name: String },
    Part { reference: String, value: String, kind: Kind },
}

/// Everything a net reaches through series parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    pub nets: Vec<String>,
    /// The series parts crossed.
    pub through: Vec<String>,
    /// Every part with a pin on those nets.
    pub components: Vec<String>,
}

/// Where a rail's power comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub reference: String,
    pub value: String,
    /// `regulator`, `connector`, `power_out` or `series` (through a part from another rail).
    pub how: String,
    pub detail: String,
    /// The rail it comes from, when known.
    pub from: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rail {
    pub net: String,
    pub sources: Vec<Source>,
    /// Parts drawing power from it (power pins, and ICs' pins on it).
    pub feeds: Vec<String>,
    /// Capacitors from it to ground.
    pub decoupling: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Regulator {
    pub reference: String,
    pub value: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    /// Enable pins and their nets.
    pub enables: Vec<String>,
}

/// A rail and the rails made from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeNode {
    pub net: String,
    /// How it is made (`J1 USB-MICRO-B`, `U20 TPS62410 via L3`).
    pub source: Option<String>,
    pub children: Vec<TreeNode>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Power {
    pub grounds: Vec<String>,
    pub rails: Vec<Rail>,
    pub regulators: Vec<Regulator>,
    pub tree: Vec<TreeNode>,
    /// Rails with no capacitor to ground.
    pub undecoupled: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub rule: String,
    /// `error`, `warning` or `info`.
    pub severity: String,
    pub message: String,
    pub components: Vec<String>,
    pub nets: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suspect {
    pub order: usize,
    pub reference: String,
    pub value: String,
    pub why: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    pub symptom: String,
    /// `missing` (the rail is absent or low) or `shorted` (to ground).
    pub reading: String,
    pub rail: String,
    pub suspects: Vec<Suspect>,
}

/// The last segment of a hierarchical net name (`/mcu/usb/power/VIN` → `VIN`).
pub fn short_name(net: &str) -> &str {
    net.rsplit('/').next().unwrap_or(net)
}

/// A supply's name in one spelling: `+3.3V`, `3V3`, `3.3V` → `3V3`; `+5V` → `5V`.
pub fn canonical(name: &str) -> String {
    let s = short_name(name).trim().trim_start_matches(['+', '-']).to_uppercase();
    if let Some((int, rest)) = s.split_once('.') {
        if let Some(frac) = rest.strip_suffix('V') {
            if int.chars().all(|c| c.is_ascii_digit()) && frac.chars().all(|c| c.is_ascii_digit()) {
                return format!("{int}V{frac}");
            }
        }
    }
    s
}

pub fn is_ground(net: &str) -> bool {
    let s = canonical(net);
    matches!(
        s.as_str(),
        "GND" | "GNDA" | "GNDD" | "AGND" | "DGND" | "PGND" | "VSS" | "VSSA" | "0V" | "EARTH" | "GNDPWR"
    ) || s.starts_with("GND")
}

/// Whether a net's name says it is a supply.
pub fn named_like_supply(net: &str) -> bool {
    let s = canonical(net);
    if is_ground(net) || s.starts_with("NET-") || s.starts_with("UNCONNECTED") {
        return false;
    }
    let voltage = s.len() <= 6
        && s.chars().next().is_some_and(|c| c.is_ascii_digit())
        && s.contains('V')
        && s.chars().all(|c| c.is_ascii_digit() || c == 'V');
    let control = ["CTRL", "EN", "MODE", "DET", "SENSE", "SEL", "FB", "PG", "OK"].iter().any(|w| s.ends_with(w));
    let prefix = ["VCC", "VDD", "VAA", "VBUS", "VIN", "VBAT", "VSYS", "VMAIN", "VPP", "VIO", "VCORE", "VEE", "VREG"]
        .iter()
        .any(|p| s.starts_with(p));
    voltage || (prefix && !control) || s == "V+" || s == "PWR"
}

fn function_is(node: &Node, words: &[&str]) -> bool {
    node.function.as_deref().is_some_and(|f| {
        let f = f.to_uppercase();
        words.iter().any(|w| f == *w || (w.ends_with('*') && f.starts_with(w.trim_end_matches('*'))))
    })
}

const OUTPUT_PINS: [&str; 7] = ["VO", "VOUT", "OUT", "OUTPUT", "VOUT*", "OUT*", "VREG*"];
const SWITCH_PINS: [&str; 4] = ["SW*", "LX*", "VSW", "PH"];
const INPUT_PINS: [&str; 7] = ["VIN", "VI", "IN", "PVIN", "AVIN", "VIN*", "PVIN*"];
const ENABLE_PINS: [&str; 5] = ["EN", "EN*", "SHDN", "~SHDN", "S/S"];

impl<'a> Board<'a> {
    pub fn new(netlist: &'a Netlist) -> Board<'a> {
        let parts = netlist.components.iter().map(|c| (c.reference.as_str(), c)).collect();
        let mut pins: HashMap<&str, Vec<(&Node, usize)>> = HashMap::new();
        let mut by_name = HashMap::new();
        for (i, net) in netlist.nets.iter().enumerate() {
            by_name.insert(net.name.as_str(), i);
            for node in &net.nodes {
                pins.entry(node.reference.as_str()).or_default().push((node, i));
            }
        }
        Board { netlist, parts, pins, by_name }
    }

    pub fn component(&self, reference: &str) -> Option<&'a Component> {
        self.parts.get(reference).copied()
    }

    pub fn net(&self, name: &str) -> Option<&'a Net> {
        self.by_name.get(name).map(|&i| &self.netlist.nets[i])
    }

    /// A net by its full name, or by its short name when that is unambiguous.
    pub fn find_net(&self, name: &str) -> Option<&'a Net> {
        self.net(name).or_else(|| {
            let mut found = self.netlist.nets.iter().filter(|n| short_name(&n.name).eq_ignore_ascii_case(name));
            match (found.next(), found.next()) {
                (Some(one), None) => Some(one),
                _ => None,
            }
        })
    }

    fn net_name(&self, i: usize) -> &'a str {
        &self.netlist.nets[i].name
    }

    /// A part's pins, connected or not, in pin order.
    pub fn pins(&self, reference: &str) -> Vec<PinView> {
        let mut out: Vec<PinView> = self
            .pins
            .get(reference)
            .into_iter()
            .flatten()
            .map(|(node, i)| PinView {
                pin: node.pin.clone(),
                function: node.function.clone(),
                pin_type: node.pin_type.clone(),
                net: Some(self.net_name(*i).to_owned()),
            })
            .collect();
        out.extend(self.netlist.unconnected.iter().filter(|n| n.reference == reference).map(|n| PinView {
            pin: n.pin.clone(),
            function: n.function.clone(),
            pin_type: n.pin_type.clone(),
            net: None,
        }));
        out.sort_by_key(|a| natural(&a.pin));
        out
    }

    /// Parts whose reference, value, footprint or part number contains `query` (any case).
    pub fn search(&self, query: &str) -> Vec<&'a Component> {
        let q = query.trim().to_lowercase();
        let mut found: Vec<&Component> = self
            .netlist
            .components
            .iter()
            .filter(|c| {
                [
                    Some(c.reference.as_str()),
                    Some(c.value.as_str()),
                    c.footprint.as_deref(),
                    c.part_number(),
                    c.part.as_deref(),
                ]
                .into_iter()
                .flatten()
                .any(|v| v.to_lowercase().contains(&q))
            })
            .collect();
        found.sort_by_key(|a| natural(&a.reference));
        found
    }

    /// The two nets of a two-pin part that conducts, if both pins are connected.
    fn series_nets(&self, reference: &str) -> Option<(usize, usize)> {
        let c = self.component(reference)?;
        if !c.kind.conducts() {
            return None;
        }
        match self.pins.get(reference).map(Vec::as_slice) {
            Some([(_, a), (_, b)]) if a != b => Some((*a, *b)),
            _ => None,
        }
    }

    /// Nets one series part away from net `i`: (other net, the part).
    fn neighbours(&self, i: usize) -> Vec<(usize, &'a str)> {
        self.netlist.nets[i]
            .nodes
            .iter()
            .filter_map(|n| {
                let (a, b) = self.series_nets(&n.reference)?;
                let other = if a == i { b } else { a };
                Some((other, self.component(&n.reference)?.reference.as_str()))
            })
            .collect()
    }

    /// Everything `net` reaches through series parts (never into ground).
    pub fn trace(&self, net: &str) -> Option<Trace> {
        let start = *self.by_name.get(net)?;
        let mut seen = BTreeSet::from([start]);
        let mut through = BTreeSet::new();
        let mut queue = VecDeque::from([start]);
        while let Some(i) = queue.pop_front() {
            for (next, part) in self.neighbours(i) {
                if is_ground(self.net_name(next)) {
                    continue;
                }
                through.insert(part.to_owned());
                if seen.insert(next) {
                    queue.push_back(next);
                }
            }
        }
        let components: BTreeSet<String> =
            seen.iter().flat_map(|&i| self.netlist.nets[i].nodes.iter().map(|n| n.reference.clone())).collect();
        Some(Trace {
            nets: seen.iter().map(|&i| self.net_name(i).to_owned()).collect(),
            through: sorted(through),
            components: sorted(components),
        })
    }

    /// The shortest way from part `from` to part `to` through series parts: nets and the
    /// parts between them. `None` when no such path exists.
    pub fn path(&self, from: &str, to: &str) -> Option<Vec<Step>> {
        let starts: Vec<usize> =
            self.pins.get(from)?.iter().map(|(_, i)| *i).filter(|&i| !is_ground(self.net_name(i))).collect();
        let goal: BTreeSet<usize> = self.pins.get(to)?.iter().map(|(_, i)| *i).collect();
        let mut back: HashMap<usize, Option<(usize, &str)>> = starts.iter().map(|&s| (s, None)).collect();
        let mut queue: VecDeque<usize> = starts.into_iter().collect();
        while let Some(i) = queue.pop_front() {
            if goal.contains(&i) {
                let mut steps = vec![Step::Net { name: self.net_name(i).to_owned() }];
                let mut at = i;
                while let Some(Some((prev, part))) = back.get(&at) {
                    let c = self.component(part)?;
                    steps.push(Step::Part { reference: c.reference.clone(), value: c.value.clone(), kind: c.kind });
                    steps.push(Step::Net { name: self.net_name(*prev).to_owned() });
                    at = *prev;
                }
                steps.reverse();
                return Some(steps);
            }
            for (next, part) in self.neighbours(i) {
                if !back.contains_key(&next) && !is_ground(self.net_name(next)) {
                    back.insert(next, Some((i, part)));
                    queue.push_back(next);
                }
            }
        }
        None
    }

    fn nodes_of(&self, reference: &str) -> impl Iterator<Item = &(&'a Node, usize)> {
        self.pins.get(reference).into_iter().flatten()
    }

    fn is_regulator(&self, c: &Component) -> bool {
        c.kind == Kind::Regulator
            || (matches!(c.kind, Kind::Ic)
                && self.nodes_of(&c.reference).any(|(n, _)| n.pin_type.as_deref() == Some("power_out"))
                && self.nodes_of(&c.reference).any(|(n, _)| function_is(n, &INPUT_PINS)))
    }

    fn regulator(&self, c: &Component) -> Regulator {
        let mut inputs = BTreeSet::new();
        let mut outputs = BTreeSet::new();
        let mut enables = BTreeSet::new();
        for (n, i) in self.nodes_of(&c.reference) {
            let name = self.net_name(*i);
            if is_ground(name) {
                continue;
            }
            if function_is(n, &SWITCH_PINS) {
                // A switcher's output runs through its inductor to the rail.
                for (next, part) in self.neighbours(*i) {
                    if self.component(part).is_some_and(|p| matches!(p.kind, Kind::Inductor | Kind::Ferrite)) {
                        outputs.insert(self.net_name(next).to_owned());
                    }
                }
            } else if function_is(n, &OUTPUT_PINS) || n.pin_type.as_deref() == Some("power_out") {
                outputs.insert(name.to_owned());
            } else if function_is(n, &INPUT_PINS) {
                inputs.insert(name.to_owned());
            } else if function_is(n, &ENABLE_PINS) {
                enables.insert(format!("{} on {name}", n.function.clone().unwrap_or_default()));
            }
        }
        for o in &outputs {
            inputs.remove(o);
        }
        Regulator {
            reference: c.reference.clone(),
            value: c.value.clone(),
            inputs: sorted(inputs),
            outputs: sorted(outputs),
            enables: sorted(enables),
        }
    }

    /// The power rails, what makes and what draws each, the regulators, and the tree from
    /// the input connectors down.
    pub fn power(&self) -> Power {
        let regulators: Vec<Regulator> =
            self.netlist.components.iter().filter(|c| self.is_regulator(c)).map(|c| self.regulator(c)).collect();
        let made_by: HashMap<&str, &Regulator> =
            regulators.iter().flat_map(|r| r.outputs.iter().map(move |o| (o.as_str(), r))).collect();
        let grounds: Vec<String> =
            self.netlist.nets.iter().filter(|n| is_ground(&n.name)).map(|n| n.name.clone()).collect();
        let is_rail = |net: &Net| {
            !is_ground(&net.name)
                && (named_like_supply(&net.name)
                    || made_by.contains_key(net.name.as_str())
                    || net.nodes.iter().any(|n| n.pin_type.as_deref() == Some("power_out")))
        };
        let rail_nets: BTreeSet<&str> =
            self.netlist.nets.iter().filter(|n| is_rail(n)).map(|n| n.name.as_str()).collect();
        let mut rails = Vec::new();
        for net in self.netlist.nets.iter().filter(|n| rail_nets.contains(n.name.as_str())) {
            let i = self.by_name[net.name.as_str()];
            let mut sources = Vec::new();
            if let Some(r) = made_by.get(net.name.as_str()) {
                let detail = format!("{} {} makes it from {}", r.reference, r.value, or_unknown(&r.inputs));
                sources.push(Source {
                    reference: r.reference.clone(),
                    value: r.value.clone(),
                    how: "regulator".into(),
                    detail,
                    from: r.inputs.first().cloned(),
                });
            }
            for n in &net.nodes {
                let Some(c) = self.component(&n.reference) else { continue };
                if c.kind == Kind::Connector {
                    sources.push(Source {
                        reference: c.reference.clone(),
                        value: c.value.clone(),
                        how: "connector".into(),
                        detail: format!("pin {} of {} {}", n.pin, c.reference, c.value),
                        from: None,
                    });
                } else if n.pin_type.as_deref() == Some("power_out") && !made_by.contains_key(net.name.as_str()) {
                    sources.push(Source {
                        reference: c.reference.clone(),
                        value: c.value.clone(),
                        how: "power_out".into(),
                        detail: format!("power output pin {} of {}", n.pin, c.reference),
                        from: None,
                    });
                }
            }
            // A connector one series part away (a USB socket behind its ferrite).
            for (other, part) in self.neighbours(i) {
                let other_net = &self.netlist.nets[other];
                if rail_nets.contains(other_net.name.as_str()) || is_ground(&other_net.name) {
                    continue;
                }
                for n in &other_net.nodes {
                    if let Some(c) = self.component(&n.reference).filter(|c| c.kind == Kind::Connector) {
                        sources.push(Source {
                            reference: c.reference.clone(),
                            value: c.value.clone(),
                            how: "connector".into(),
                            detail: format!("pin {} of {} {} through {part}", n.pin, c.reference, c.value),
                            from: None,
                        });
                    }
                }
            }
            if !made_by.contains_key(net.name.as_str()) {
                // Another rail through a series part (a diode, fuse, ferrite, switch jumper).
                for (other, part) in self.series_or_diode(i) {
                    let other_name = self.net_name(other);
                    if rail_nets.contains(other_name)
                        && !made_by.get(other_name).is_some_and(|r| r.inputs.iter().any(|x| x == &net.name))
                    {
                        let c = self.component(part);
                        sources.push(Source {
                            reference: part.to_owned(),
                            value: c.map(|c| c.value.clone()).unwrap_or_default(),
                            how: "series".into(),
                            detail: format!("from {other_name} through {part}"),
                            from: Some(other_name.to_owned()),
                        });
                    }
                }
            }
            let mut feeds = BTreeSet::new();
            let mut decoupling = BTreeSet::new();
            for n in &net.nodes {
                let Some(c) = self.component(&n.reference) else { continue };
                let maker = made_by.get(net.name.as_str()).is_some_and(|r| r.reference == c.reference);
                match c.kind {
                    Kind::Capacitor if self.nodes_of(&c.reference).any(|(_, j)| is_ground(self.net_name(*j))) => {
                        decoupling.insert(c.reference.clone());
                    }
                    Kind::Ic | Kind::Regulator | Kind::Crystal | Kind::Led | Kind::Transistor if !maker => {
                        feeds.insert(c.reference.clone());
                    }
                    _ if n.pin_type.as_deref() == Some("power_in") && !maker => {
                        feeds.insert(c.reference.clone());
                    }
                    _ => {}
                }
            }
            rails.push(Rail { net: net.name.clone(), sources, feeds: sorted(feeds), decoupling: sorted(decoupling) });
        }
        let undecoupled = rails.iter().filter(|r| r.decoupling.is_empty()).map(|r| r.net.clone()).collect();
        let tree = self.tree(&rails);
        Power { grounds, rails, regulators, tree, undecoupled }
    }

    /// Nets one part away that power flows through: series parts and diodes.
    fn series_or_diode(&self, i: usize) -> Vec<(usize, &'a str)> {
        let mut out = self.neighbours(i);
        for n in &self.netlist.nets[i].nodes {
            let Some(c) = self.component(&n.reference) else { continue };
            if c.kind != Kind::Diode {
                continue;
            }
            // Anode on this net, cathode elsewhere: power flows on.
            if let Some([(a, ai), (b, bi)]) = self.pins.get(c.reference.as_str()).map(Vec::as_slice) {
                let (here, there) = if *ai == i { (a, *bi) } else { (b, *ai) };
                let anode = here.function.as_deref().is_some_and(|f| f.eq_ignore_ascii_case("A"));
                if anode && there != i && !is_ground(self.net_name(there)) {
                    out.push((there, c.reference.as_str()));
                }
            }
        }
        out
    }

    fn tree(&self, rails: &[Rail]) -> Vec<TreeNode> {
        // Parent → children edges: a rail is made from another by a regulator or a series part.
        let mut children: BTreeMap<&str, Vec<(&str, String)>> = BTreeMap::new();
        let mut has_parent = BTreeSet::new();
        for r in rails {
            for s in &r.sources {
                if let Some(from) = s.from.as_deref().filter(|f| *f != r.net) {
                    let how = if s.how == "regulator" {
                        format!("{} {}", s.reference, s.value)
                    } else {
                        format!("through {} {}", s.reference, s.value)
                    };
                    children.entry(from).or_default().push((r.net.as_str(), how));
                    has_parent.insert(r.net.as_str());
                }
            }
        }
        fn grow(
            net: &str,
            source: Option<String>,
            children: &BTreeMap<&str, Vec<(&str, String)>>,
            seen: &mut BTreeSet<String>,
        ) -> TreeNode {
            seen.insert(net.to_owned());
            let kids = children
                .get(net)
                .into_iter()
                .flatten()
                .filter(|(c, _)| !seen.contains(*c))
                .map(|(c, how)| (c.to_string(), how.clone()))
                .collect::<Vec<_>>();
            let mut node = TreeNode { net: net.to_owned(), source, children: Vec::new() };
            for (c, how) in kids {
                if !seen.contains(&c) {
                    node.children.push(grow(&c, Some(how), children, seen));
                }
            }
            node
        }
        let mut seen = BTreeSet::new();
        let mut roots: Vec<&Rail> = rails.iter().filter(|r| !has_parent.contains(r.net.as_str())).collect();
        // Connector-fed rails first: the tree starts where power comes in.
        roots.sort_by_key(|r| !r.sources.iter().any(|s| s.how == "connector"));
        let mut out = Vec::new();
        for r in roots {
            if seen.contains(&r.net) || (!children.contains_key(r.net.as_str()) && r.sources.is_empty()) {
                continue;
            }
            let source = r.sources.first().map(|s| format!("{} {} ({})", s.reference, s.value, s.how));
            out.push(grow(&r.net, source, &children, &mut seen));
        }
        out
    }
}

fn or_unknown(v: &[String]) -> String {
    if v.is_empty() {
        "an input this netlist does not show".into()
    } else {
        v.join(", ")
    }
}

fn sorted(set: BTreeSet<String>) -> Vec<String> {
    let mut v: Vec<String> = set.into_iter().collect();
    v.sort_by_key(|a| natural(a));
    v
}

/// Sort key putting `C2` before `C10`.
pub fn natural(s: &str) -> (String, u64, String) {
    let head: String = s.chars().take_while(|c| !c.is_ascii_digit()).collect();
    let digits: String = s.chars().skip(head.chars().count()).take_while(|c| c.is_ascii_digit()).collect();
    let tail: String = s.chars().skip(head.chars().count() + digits.len()).collect();
    (head, digits.parse().unwrap_or(0), tail)
}

/// A zero-ohm part's value: `0`, `0R`, `0R0`, `0Ω`, `0 ohm`.
fn zero_ohm(value: &str) -> bool {
    let v = value.trim().to_uppercase().replace([' ', 'Ω'], "");
    matches!(v.as_str(), "0" | "0R" | "0R0" | "0OHM" | "0E" | "0.0")
}

impl Board<'_> {
    /// Rule checks over the netlist.
    pub fn faults(&self, power: &Power) -> Vec<Finding> {
        let mut out = Vec::new();
        let rails: BTreeSet<&str> = power.rails.iter().map(|r| r.net.as_str()).collect();
        let undecoupled: BTreeSet<&str> = power.undecoupled.iter().map(String::as_str).collect();
        let finding = |rule: &str, severity: &str, message: String, components: Vec<String>, nets: Vec<String>| {
            Finding { rule: rule.into(), severity: severity.into(), message, components, nets }
        };
        for n in &self.netlist.unconnected {
            if n.pin_type.as_deref() == Some("power_in") {
                let name = n.function.as_deref().unwrap_or(&n.pin);
                out.push(finding(
                    "power_pin_unconnected",
                    "error",
                    format!("{} pin {} ({name}) is a power pin with nothing connected", n.reference, n.pin),
                    vec![n.reference.clone()],
                    vec![],
                ));
            }
        }
        for net in &self.netlist.nets {
            let unconnected = net.name.to_lowercase().starts_with("unconnected-");
            if let [only] = net.nodes.as_slice() {
                if unconnected && only.pin_type.as_deref() == Some("power_in") {
                    out.push(finding(
                        "power_pin_unconnected",
                        "error",
                        format!("{} pin {} is a power pin with nothing connected", only.reference, only.pin),
                        vec![only.reference.clone()],
                        vec![net.name.clone()],
                    ));
                    continue;
                }
                let quiet = unconnected
                    || only.pin_type.as_deref() == Some("no_connect")
                    || self.component(&only.reference).is_some_and(|c| {
                        matches!(c.kind, Kind::MountingHole | Kind::TestPoint) || c.value.eq_ignore_ascii_case("DNP")
                    });
                if !quiet {
                    out.push(finding(
                        "single_pin_net",
                        "warning",
                        format!(
                            "net {} reaches only {} pin {}: a wire that goes nowhere",
                            net.name, only.reference, only.pin
                        ),
                        vec![only.reference.clone()],
                        vec![net.name.clone()],
                    ));
                }
            }
        }
        let mut flagged = BTreeSet::new();
        for c in self.netlist.components.iter().filter(|c| matches!(c.kind, Kind::Ic | Kind::Regulator)) {
            for (n, i) in self.nodes_of(&c.reference) {
                let net = self.net_name(*i);
                if n.pin_type.as_deref() == Some("power_in")
                    && undecoupled.contains(net)
                    && flagged.insert((c.reference.as_str(), net))
                {
                    out.push(finding(
                        "no_decoupling",
                        "warning",
                        format!("{} ({}) is fed from {net}, which has no capacitor to ground", c.reference, c.value),
                        vec![c.reference.clone()],
                        vec![net.to_owned()],
                    ));
                }
            }
        }
        for c in self
            .netlist
            .components
            .iter()
            .filter(|c| matches!(c.kind, Kind::Resistor | Kind::Jumper) && zero_ohm(&c.value))
        {
            if let Some([(_, a), (_, b)]) = self.pins.get(c.reference.as_str()).map(Vec::as_slice) {
                let (a, b) = (self.net_name(*a), self.net_name(*b));
                if a != b && rails.contains(a) && rails.contains(b) {
                    out.push(finding(
                        "rails_joined",
                        "warning",
                        format!("{} ({}) joins the rails {a} and {b}: fitted, they are one rail", c.reference, c.value),
                        vec![c.reference.clone()],
                        vec![a.to_owned(), b.to_owned()],
                    ));
                }
            }
        }
        out
    }

    /// The rail a symptom names (`no 3V3`, `+5V shorted`, `VCC dead`), by its name in any
    /// spelling.
    pub fn rail_in(&self, power: &Power, symptom: &str) -> Option<String> {
        let words: Vec<String> = symptom
            .split(|c: char| !(c.is_alphanumeric() || c == '.' || c == '+' || c == '_'))
            .filter(|w| !w.is_empty())
            .map(canonical)
            .collect();
        power.rails.iter().find(|r| words.contains(&canonical(&r.net))).map(|r| r.net.clone())
    }

    /// For a symptom on a rail, the parts to check, in a bench's order, each with why.
    pub fn suspects(&self, power: &Power, symptom: &str) -> Option<Diagnosis> {
        let rail_name = self.rail_in(power, symptom)?;
        let rail = power.rails.iter().find(|r| r.net == rail_name)?;
        let lower = symptom.to_lowercase();
        let shorted = lower.contains("short");
        let mut list: Vec<(String, String)> = Vec::new();
        let mut add = |reference: &str, why: String| {
            if !list.iter().any(|(r, _)| r == reference) {
                list.push((reference.to_owned(), why));
            }
        };
        let ground_parts = |kind: Kind| -> Vec<&Component> {
            self.net(&rail.net)
                .into_iter()
                .flat_map(|n| n.nodes.iter())
                .filter_map(|n| self.component(&n.reference))
                .filter(|c| c.kind == kind && self.nodes_of(&c.reference).any(|(_, j)| is_ground(self.net_name(*j))))
                .collect()
        };
        if shorted {
            let regulators: Vec<&Regulator> =
                power.regulators.iter().filter(|r| r.outputs.contains(&rail.net)).collect();
            for c in ground_parts(Kind::Capacitor) {
                add(&c.reference, format!("{} ({}) sits between {} and ground: ceramic capacitors are the usual short; lift one end and measure again", c.reference, c.value, rail.net));
            }
            for f in &rail.feeds {
                if let Some(c) = self.component(f).filter(|c| matches!(c.kind, Kind::Ic | Kind::Regulator)) {
                    add(f, format!("{} ({}) draws from {}: an IC with a failed supply pin shorts the rail and runs hot (feel or freeze-spray it with the rail powered at low current)", c.reference, c.value, rail.net));
                }
            }
            for c in ground_parts(Kind::Diode) {
                add(
                    &c.reference,
                    format!(
                        "{} ({}) clamps {} to ground: a failed TVS or protection diode reads as a short",
                        c.reference, c.value, rail.net
                    ),
                );
            }
            for r in regulators {
                add(
                    &r.reference,
                    format!(
                        "{} ({}) makes {}: a regulator's output stage can fail shorted",
                        r.reference, r.value, rail.net
                    ),
                );
            }
        } else {
            // The rail, and the rails it is fed from in series (VCC from REG_OUT1 through a
            // net tie): what makes any of them is a suspect.
            let mut chain = vec![rail];
            while let Some(up) = chain
                .last()
                .and_then(|r| r.sources.iter().find(|s| s.how == "series"))
                .and_then(|s| s.from.as_deref())
                .and_then(|from| power.rails.iter().find(|x| x.net == from))
            {
                if chain.iter().any(|r| r.net == up.net) || chain.len() > 8 {
                    break;
                }
                chain.push(up);
            }
            let makers: Vec<&Regulator> = power
                .regulators
                .iter()
                .filter(|r| r.outputs.iter().any(|o| chain.iter().any(|c| c.net == *o)))
                .collect();
            for r in &makers {
                let enables = if r.enables.is_empty() {
                    String::new()
                } else {
                    format!("; its enables: {}", r.enables.join(", "))
                };
                let out = r.outputs.iter().find(|o| chain.iter().any(|c| c.net == **o)).cloned().unwrap_or_default();
                let via = if out == rail.net { String::new() } else { format!(" ({out}, which feeds {})", rail.net) };
                add(
                    &r.reference,
                    format!(
                        "{} ({}) makes {}{via}: measure its output, then its input ({}){enables}",
                        r.reference,
                        r.value,
                        rail.net,
                        or_unknown(&r.inputs)
                    ),
                );
            }
            // A switcher's inductor between its SW pin and the rail.
            for c in &chain {
                if let Some(net) = self.by_name.get(c.net.as_str()) {
                    for (other, part) in self.neighbours(*net) {
                        let inductor = self.component(part).is_some_and(|p| p.kind == Kind::Inductor);
                        if inductor && self.netlist.nets[other].nodes.iter().any(|n| function_is(n, &SWITCH_PINS)) {
                            add(part, format!("{part} carries the regulator's switching output to {}: an open inductor leaves the rail dead", c.net));
                        }
                    }
                }
            }
            for c in &chain {
                for s in c.sources.iter().filter(|s| s.how == "series" || s.how == "connector") {
                    add(
                        &s.reference,
                        format!("{} ({}) brings {} {}: check it conducts", s.reference, s.value, c.net, s.detail),
                    );
                }
            }
            for r in &makers {
                for input in &r.inputs {
                    if let Some(upstream) = power.rails.iter().find(|x| x.net == *input) {
                        for s in &upstream.sources {
                            add(
                                &s.reference,
                                format!(
                                    "{input} feeds {} ({}), which makes {}: no input, no output",
                                    r.reference, s.detail, rail.net
                                ),
                            );
                        }
                    }
                }
            }
            for c in ground_parts(Kind::Capacitor) {
                add(&c.reference, format!("{} ({}) on {}: a shorted capacitor pulls the rail down and the regulator shuts off (measure {} to ground unpowered)", c.reference, c.value, rail.net, rail.net));
            }
        }
        let suspects = list
            .into_iter()
            .enumerate()
            .map(|(k, (reference, why))| Suspect {
                order: k + 1,
                value: self.component(&reference).map(|c| c.value.clone()).unwrap_or_default(),
                reference,
                why,
            })
            .collect();
        Some(Diagnosis {
            symptom: symptom.trim().to_owned(),
            reading: if shorted { "shorted".into() } else { "missing".into() },
            rail: rail.net.clone(),
            suspects,
        })
    }
}
