//! Pure logic of the training worker: levels, what real work is worth, scrubbing a ticket's
//! words for a simulation, and the order a simulation's choices are shown in. No `worker`:
//! unit-tested natively.

use serde::Serialize;

/// XP for a simulation answered right the first time (a wrong first answer earns a little
/// for trying; later attempts earn nothing).
pub const XP_CORRECT: i64 = 40;
pub const XP_TRIED: i64 = 5;
/// XP for real work, once per event.
pub const XP_QC_FIRST_PASS: i64 = 50;
pub const XP_GUIDE_COMPLETED: i64 = 20;
pub const XP_QUOTE_APPROVED: i64 = 10;

/// Where a person stands: level `n` needs `100·n·(n−1)/2` XP (100 for level 2, 300 for 3,
/// 600 for 4 …): each level asks 100 more than the last.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Level {
    pub xp: i64,
    pub level: i64,
    /// XP where this level began and where the next begins.
    pub level_xp: i64,
    pub next_level_xp: i64,
}

pub fn threshold(level: i64) -> i64 {
    100 * level * (level - 1) / 2
}

pub fn level_of(xp: i64) -> Level {
    let xp = xp.max(0);
    let mut level = 1;
    while threshold(level + 1) <= xp {
        level += 1;
    }
    Level { xp, level, level_xp: threshold(level), next_level_xp: threshold(level + 1) }
}

/// A ticket's words with what could name a person taken out: email addresses, phone-like
/// digit runs and serial-like codes become `[redacted]`; at most `max` characters.
pub fn anonymise(text: &str, max: usize) -> String {
    let mut out = Vec::new();
    for word in text.split_whitespace() {
        let bare = word.trim_matches(|c: char| !c.is_alphanumeric() && c != '@' && c != '+');
        let digits = bare.chars().filter(char::is_ascii_digit).count();
        let letters = bare.chars().filter(char::is_ascii_alphabetic).count();
        let email = bare.contains('@') && bare.contains('.');
        let phone = digits >= 7 && letters == 0;
        let serial = bare.len() >= 8 && digits >= 3 && letters >= 2 && bare.chars().all(|c| c.is_ascii_alphanumeric());
        out.push(if email || phone || serial { "[redacted]" } else { word });
    }
    let joined = out.join(" ");
    match joined.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &joined[..i]),
        None => joined,
    }
}

/// The order the choices are shown in: by a hash of the simulation and the choice, so it is
/// the same each time and the right one is not always first.
pub fn shuffled(seed: &str, mut choices: Vec<String>) -> Vec<String> {
    let key = |c: &String| {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in seed.bytes().chain([0]).chain(c.bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h
    };
    choices.sort_by_key(key);
    choices.dedup();
    choices
}

/// A module's name from a device type: "laptop" → "laptop-repair".
pub fn module_of(device_type: &str) -> String {
    format!("{}-repair", device_type.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_climb_by_a_hundred_more_each_time() {
        assert_eq!(level_of(0), Level { xp: 0, level: 1, level_xp: 0, next_level_xp: 100 });
        assert_eq!(level_of(99).level, 1);
        assert_eq!(level_of(100).level, 2);
        assert_eq!(level_of(299).level, 2);
        assert_eq!(level_of(300), Level { xp: 300, level: 3, level_xp: 300, next_level_xp: 600 });
        assert_eq!(level_of(-5).level, 1);
    }

    #[test]
    fn what_names_a_person_is_taken_out() {
        let text = "Call me on 5551234567 or mail jo.bloggs@example.com; serial C02XK1ZZJG5H, fan rattles";
        let clean = anonymise(text, 500);
        assert!(!clean.contains("5551234567") && !clean.contains("example.com") && !clean.contains("C02XK1ZZJG5H"));
        assert!(clean.contains("fan rattles") && clean.contains("[redacted]"), "{clean}");
        assert_eq!(anonymise("a b c d", 3), "a b…");
    }

    #[test]
    fn choices_keep_one_order_per_simulation() {
        let a = shuffled("sim1", vec!["x".into(), "y".into(), "z".into(), "y".into()]);
        let b = shuffled("sim1", vec!["z".into(), "x".into(), "y".into()]);
        assert_eq!(a, b);
        assert_eq!(a.len(), 3);
    }
}
