//! The schematic engine on real netlists (`tests/data/netlists/`, see its README): HackRF
//! One and its Opera Cake add-on (KiCad 5, version D) and a KiCad 6 export (version E).
//! Counts are the files' own (`(comp` and `(net` entries); paths and rails were checked by
//! hand against the HackRF One schematic's power sheet.

use super::analysis::{Board, Step};
use super::netlist::{self, Kind};

fn data(name: &str) -> String {
    let path = format!("{}/tests/data/netlists/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn read(name: &str) -> netlist::Netlist {
    netlist::read(&data(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn real_netlists_of_kicad_5_and_6_import_with_their_counts() {
    let one = read("hackrf-one.net");
    assert_eq!((one.version.as_str(), one.components.len(), one.nets.len()), ("D", 413, 378));
    let cake = read("hackrf-operacake.net");
    assert_eq!((cake.components.len(), cake.nets.len()), (152, 203));
    let six = read("kicad6-legacy-power.net");
    assert_eq!((six.version.as_str(), six.components.len(), six.nets.len()), ("E", 2, 4));
    let u1001 = Board::new(&six).pins("U1001");
    assert_eq!(u1001.len(), 5);
    assert_eq!(u1001[4].function.as_deref(), Some("VCC"));
    assert_eq!(u1001[4].pin_type.as_deref(), Some("power_in"));
    assert_eq!(u1001[4].net.as_deref(), Some("VCC"));
}

#[test]
fn parts_are_found_by_reference_value_footprint_and_part_number_with_their_pin_types() {
    let one = read("hackrf-one.net");
    let board = Board::new(&one);
    let found: Vec<&str> = board.search("TPS62410DRCR").iter().map(|c| c.reference.as_str()).collect();
    assert_eq!(found, ["U21"]);
    let u21 = board.component("U21").unwrap_or_else(|| panic!("U21"));
    assert_eq!((u21.value.as_str(), u21.kind), ("TPS62410", Kind::Regulator));
    // KiCad 5 nodes carry no pin types: they come from the symbol in libparts.
    let vin = board.pins("U21").into_iter().find(|p| p.pin == "3").unwrap_or_else(|| panic!("pin 3"));
    assert_eq!(vin.function.as_deref(), Some("VIN"));
    assert_eq!(vin.pin_type.as_deref(), Some("power_in"));
    assert_eq!(vin.net.as_deref(), Some("/mcu/usb/power/VIN"));
    assert!(board.search("GSG-0402").len() > 50, "by footprint");
}

#[test]
fn a_path_runs_through_series_parts_and_a_trace_stops_at_ground() {
    let one = read("hackrf-one.net");
    let board = Board::new(&one);
    // From the TPS62410 to a capacitor on +1V8: out of SW2 through L10 (or from its ADJ
    // network through R47) onto REG_OUT2, then the net tie NT1.
    let path = board.path("U21", "C152").unwrap_or_else(|| panic!("a path"));
    let parts: Vec<&str> = path
        .iter()
        .filter_map(|s| match s {
            Step::Part { reference, .. } => Some(reference.as_str()),
            Step::Net { .. } => None,
        })
        .collect();
    assert!(parts == ["L10", "NT1"] || parts == ["R47", "NT1"], "{path:?}");
    assert!(matches!(path.last(), Some(Step::Net { name }) if name == "+1V8"), "{path:?}");
    // The MCU drives the converter's enable directly: one net, no parts between.
    let enable = board.path("U23", "U21").unwrap_or_else(|| panic!("a path"));
    assert_eq!(enable, [Step::Net { name: "/mcu/usb/power/EN1V8".into() }]);
    assert!(board.path("U21", "U999").is_none(), "no path to a part the board does not have");
    let trace = board.trace("+1V8").unwrap_or_else(|| panic!("trace"));
    assert!(trace.nets.contains(&"/mcu/usb/power/REG_OUT2".to_owned()), "{trace:?}");
    assert!(trace.through.contains(&"NT1".to_owned()) && trace.through.contains(&"L10".to_owned()), "{trace:?}");
    assert!(!trace.nets.iter().any(|n| n == "GND"), "never into ground");
}

#[test]
fn the_power_tree_runs_from_usb_through_the_buck_converter_to_its_rails() {
    let one = read("hackrf-one.net");
    let board = Board::new(&one);
    let power = board.power();
    assert!(power.grounds.contains(&"GND".to_owned()));
    let u21 = power.regulators.iter().find(|r| r.reference == "U21").unwrap_or_else(|| panic!("U21: {power:?}"));
    assert_eq!(u21.inputs, ["/mcu/usb/power/VIN"]);
    assert_eq!(u21.outputs, ["/mcu/usb/power/REG_OUT1", "/mcu/usb/power/REG_OUT2"]);
    assert!(u21.enables.iter().any(|e| e.contains("EN1V8")), "{u21:?}");
    let vcc = power.rails.iter().find(|r| r.net == "VCC").unwrap_or_else(|| panic!("VCC"));
    assert!(vcc.sources.iter().any(|s| s.reference == "NT2" && s.from.as_deref() == Some("/mcu/usb/power/REG_OUT1")));
    assert!(vcc.feeds.contains(&"U23".to_owned()), "the LPC4320 runs on VCC");
    assert!(!vcc.decoupling.is_empty());
    // USB power: the socket J1's VBUS pin, through the ferrite FB1 onto VBUS.
    let socket = power.rails.iter().find(|r| r.net == "Net-(FB1-Pad1)").unwrap_or_else(|| panic!("J1's net"));
    assert!(socket.sources.iter().any(|s| s.reference == "J1" && s.how == "connector"), "{socket:?}");
    let vbus = power.rails.iter().find(|r| r.net == "/mcu/usb/power/VBUS").unwrap_or_else(|| panic!("VBUS"));
    assert!(
        vbus.sources.iter().any(|s| s.reference == "FB1" && s.from.as_deref() == Some("Net-(FB1-Pad1)")),
        "{vbus:?}"
    );
    // VIN → U21 → REG_OUT1 → VCC, as a tree.
    fn find<'a>(nodes: &'a [super::analysis::TreeNode], net: &str) -> Option<&'a super::analysis::TreeNode> {
        nodes.iter().find_map(|n| if n.net == net { Some(n) } else { find(&n.children, net) })
    }
    let vin = find(&power.tree, "/mcu/usb/power/VIN").unwrap_or_else(|| panic!("{:?}", power.tree));
    let out1 = vin.children.iter().find(|c| c.net == "/mcu/usb/power/REG_OUT1").unwrap_or_else(|| panic!("{vin:?}"));
    assert!(out1.source.as_deref().is_some_and(|s| s.starts_with("U21")));
    assert!(out1.children.iter().any(|c| c.net == "VCC"));
}

#[test]
fn no_1v8_suspects_the_converter_first_and_a_short_the_capacitors() {
    let one = read("hackrf-one.net");
    let board = Board::new(&one);
    let power = board.power();
    let dead = board.suspects(&power, "no 1V8 on the CPLD").unwrap_or_else(|| panic!("a diagnosis"));
    assert_eq!((dead.rail.as_str(), dead.reading.as_str()), ("+1V8", "missing"));
    let order: Vec<&str> = dead.suspects.iter().map(|s| s.reference.as_str()).collect();
    assert_eq!(order[0], "U21", "{order:?}");
    assert!(order.contains(&"L10") && order.contains(&"NT1"), "{order:?}");
    let pos = |r: &str| order.iter().position(|x| *x == r).unwrap_or(usize::MAX);
    assert!(pos("L10") < pos("C151"), "the inductor before the rail's capacitors: {order:?}");
    let short = board.suspects(&power, "+1.8V shorted to ground").unwrap_or_else(|| panic!("a diagnosis"));
    assert_eq!(short.reading, "shorted");
    assert!(short.suspects[0].reference.starts_with('C'), "{:?}", short.suspects);
    assert!(short.suspects.iter().any(|s| s.reference == "U24"));
    assert!(board.suspects(&power, "no 12V").is_none(), "no such rail");
}

#[test]
fn the_rules_find_unconnected_power_single_pin_nets_missing_decoupling_and_joined_rails() {
    // The KiCad 6 export: +3.3V reaches one input pin, and VCC has no capacitor.
    let six = read("kicad6-legacy-power.net");
    let board = Board::new(&six);
    let findings = board.faults(&board.power());
    let rules: Vec<&str> = findings.iter().map(|f| f.rule.as_str()).collect();
    assert!(rules.contains(&"single_pin_net"), "{findings:?}");
    assert!(findings.iter().any(|f| f.rule == "no_decoupling" && f.components == ["U1001"]), "{findings:?}");
    // A hand-made board for the rest (synthetic: each rule once).
    let text = r#"(export (version "E")
      (components
        (comp (ref "U1") (value "MCU") (libsource (lib "x") (part "MCU")))
        (comp (ref "R1") (value "0R") (libsource (lib "Device") (part "R")))
        (comp (ref "C1") (value "100n") (libsource (lib "Device") (part "C"))))
      (nets
        (net (code "1") (name "+3V3") (node (ref "U1") (pin "1") (pinfunction "VDD") (pintype "power_in"))
          (node (ref "R1") (pin "1") (pintype "passive")) (node (ref "C1") (pin "1") (pintype "passive")))
        (net (code "2") (name "VDDA") (node (ref "R1") (pin "2") (pintype "passive")))
        (net (code "3") (name "GND") (node (ref "C1") (pin "2") (pintype "passive")) (node (ref "U1") (pin "3") (pintype "power_in")))
        (net (code "4") (name "unconnected-(U1-VDDA-Pad2)") (node (ref "U1") (pin "2") (pinfunction "VDDA") (pintype "power_in")))))"#;
    let made = netlist::read(text).unwrap_or_else(|e| panic!("{e}"));
    let board = Board::new(&made);
    let findings = board.faults(&board.power());
    for rule in ["power_pin_unconnected", "rails_joined"] {
        assert!(findings.iter().any(|f| f.rule == rule), "{rule}: {findings:?}");
    }
}

#[test]
fn broken_netlists_are_refused_with_the_line() {
    let e = netlist::read("(export (version D)\n (components\n  (comp (ref U1))\n  (comp (ref U1))))").unwrap_err();
    assert_eq!(e.line, 4, "{e}");
    assert!(e.message.contains("U1 appears twice"), "{e}");
    let e = netlist::read("(kicad_pcb (version 20221018))").unwrap_err();
    assert!(e.message.contains("not a KiCad netlist"), "{e}");
    let e =
        netlist::read("(export (version D)\n (nets (net (code 1) (name X)\n  (node (ref R9) (pin 1)))))").unwrap_err();
    assert_eq!(e.line, 3);
    assert!(e.message.contains("R9"), "{e}");
    let e = netlist::read(&data("hackrf-operacake.net")[..40_000]).unwrap_err();
    assert!(e.message.contains("never closed"), "{e}");
}
