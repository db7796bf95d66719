//! Text-to-speech (seed 001's voice AI): voice profiles as a workspace keeps them, what is
//! sent to the provider (ElevenLabs' `POST /v1/text-to-speech/{voice_id}/stream` body),
//! the cache key of a synthesis, and the sentence a customer hears about their repair.
//!
//! Pure: `noizylab-voice` stores profiles, calls the provider and keeps the audio in R2.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::auth::sha256_hex;
use crate::error::{invalid, Invalid};

/// The provider's voice and model when a workspace has no profile: ElevenLabs' premade
/// "Rachel" and its multilingual model.
pub const DEFAULT_VOICE: &str = "21m00Tcm4TlvDq8ikWAM";
pub const DEFAULT_MODEL: &str = "eleven_multilingual_v2";
/// MP3, 44.1 kHz, 128 kb/s: what the portal plays.
pub const DEFAULT_FORMAT: &str = "mp3_44100_128";
/// The most text one request speaks.
pub const MAX_TEXT: usize = 2_000;

/// ElevenLabs' `voice_settings`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default = "half")]
    pub stability: f64,
    #[serde(default = "three_quarters")]
    pub similarity_boost: f64,
    #[serde(default)]
    pub style: f64,
    #[serde(default = "yes")]
    pub use_speaker_boost: bool,
    #[serde(default = "one")]
    pub speed: f64,
}

fn half() -> f64 {
    0.5
}
fn three_quarters() -> f64 {
    0.75
}
fn one() -> f64 {
    1.0
}
fn yes() -> bool {
    true
}

impl Default for Settings {
    fn default() -> Self {
        Settings { stability: 0.5, similarity_boost: 0.75, style: 0.0, use_speaker_boost: true, speed: 1.0 }
    }
}

/// A voice profile as given: which voice, model, settings, language and format.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    pub voice_id: String,
    #[serde(default = "model")]
    pub model_id: String,
    #[serde(default)]
    pub settings: Settings,
    /// ISO 639-1, e.g. `en`, `fr`; `None`: the model detects it.
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default = "format")]
    pub output_format: String,
    /// The workspace's voice when a request names none.
    #[serde(default)]
    pub is_default: bool,
}

fn model() -> String {
    DEFAULT_MODEL.into()
}
fn format() -> String {
    DEFAULT_FORMAT.into()
}

/// Formats the provider can stream that browsers play.
pub const FORMATS: [&str; 4] = ["mp3_22050_32", "mp3_44100_64", "mp3_44100_128", "mp3_44100_192"];

fn plain(s: &str, max: usize) -> bool {
    (1..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl Profile {
    /// The profile the platform uses when a workspace has none.
    pub fn builtin() -> Profile {
        Profile {
            name: "Default".into(),
            voice_id: DEFAULT_VOICE.into(),
            model_id: DEFAULT_MODEL.into(),
            settings: Settings::default(),
            language: None,
            output_format: DEFAULT_FORMAT.into(),
            is_default: true,
        }
    }

    /// The profile if it can be used; otherwise the field at fault and why.
    pub fn checked(mut self) -> Result<Profile, Invalid> {
        self.name = self.name.trim().to_owned();
        if self.name.is_empty() || self.name.chars().count() > 80 {
            return Err(invalid("name", "a profile's name is 1 to 80 characters"));
        }
        if !plain(&self.voice_id, 64) {
            return Err(invalid("voice_id", "the provider's voice id: letters, digits, _ and -"));
        }
        if !plain(&self.model_id, 64) {
            return Err(invalid("model_id", "the provider's model id, e.g. eleven_multilingual_v2"));
        }
        let s = &self.settings;
        for (field, v) in [
            ("settings.stability", s.stability),
            ("settings.similarity_boost", s.similarity_boost),
            ("settings.style", s.style),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(invalid(field, "0 to 1"));
            }
        }
        if !(0.7..=1.2).contains(&s.speed) {
            return Err(invalid("settings.speed", "0.7 to 1.2"));
        }
        if let Some(l) = &self.language {
            if l.len() != 2 || !l.bytes().all(|b| b.is_ascii_lowercase()) {
                return Err(invalid("language", "a two-letter ISO 639-1 code, e.g. en"));
            }
        }
        if !FORMATS.contains(&self.output_format.as_str()) {
            return Err(invalid("output_format", format!("one of {}", FORMATS.join(", "))));
        }
        Ok(self)
    }

    /// The JSON body of the provider's text-to-speech request for `text`.
    pub fn request(&self, text: &str) -> Value {
        let mut body = json!({ "text": text, "model_id": self.model_id, "voice_settings": self.settings });
        if let Some(l) = &self.language {
            body["language_code"] = l.as_str().into();
        }
        body
    }

    /// The R2 key of `text` spoken with this profile: a hash of everything that changes
    /// the audio (text, voice, model, settings, language, format).
    pub fn cache_key(&self, text: &str) -> String {
        let what = json!([text, self.voice_id, self.model_id, self.settings, self.language, self.output_format]);
        format!("tts/{}.mp3", sha256_hex(what.to_string().as_bytes()))
    }
}

/// Text to speak: trimmed, 1 to [`MAX_TEXT`] characters.
pub fn checked_text(text: &str) -> Result<&str, Invalid> {
    let t = text.trim();
    if t.is_empty() || t.chars().count() > MAX_TEXT {
        return Err(invalid("text", format!("1 to {MAX_TEXT} characters to speak")));
    }
    Ok(t)
}

/// What a customer hears about their repair in the portal.
pub fn status_sentence(number: i64, title: &str, status: &str) -> String {
    let how = match status {
        "INTAKE" => "has been received, and is waiting for a technician",
        "TRIAGE" => "is being looked at by a technician",
        "DIAGNOSTICS" => "is being diagnosed",
        "AWAITING_APPROVAL" => "has a quote waiting for your approval",
        "APPROVED" => "is approved, and the repair will start soon",
        "WAITING_PARTS" => "is waiting for parts",
        "IN_REPAIR" => "is being repaired",
        "QC" => "is repaired, and in quality control",
        "READY" => "is ready for pickup",
        "PICKED_UP" => "has been picked up. Thank you",
        "CLOSED" => "is closed",
        "VOID" => "was cancelled",
        _ => "has an update",
    };
    let title: String = title.chars().filter(|c| !c.is_control()).take(120).collect();
    format!("Your repair number {number}, {title}, {how}.")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> Profile {
        serde_json::from_value(json!({ "name": "Front desk", "voice_id": "pNInz6obpgDQGcFmaJgB",
                                       "settings": { "stability": 0.4 }, "language": "en" }))
        .unwrap()
    }

    #[test]
    fn a_profile_is_checked_and_filled_with_the_providers_defaults() {
        let p = profile().checked().unwrap();
        assert_eq!((p.model_id.as_str(), p.output_format.as_str()), (DEFAULT_MODEL, DEFAULT_FORMAT));
        assert_eq!(p.settings, Settings { stability: 0.4, ..Settings::default() });
        let mut bad = profile();
        bad.settings.similarity_boost = 1.5;
        assert_eq!(bad.checked().unwrap_err().field, "settings.similarity_boost");
        let mut bad = profile();
        bad.voice_id = "../admin".into();
        assert_eq!(bad.checked().unwrap_err().field, "voice_id");
        let mut bad = profile();
        bad.language = Some("english".into());
        assert_eq!(bad.checked().unwrap_err().field, "language");
        let mut bad = profile();
        bad.output_format = "pcm_44100".into();
        assert_eq!(bad.checked().unwrap_err().field, "output_format");
        assert!(serde_json::from_value::<Profile>(json!({ "name": "x", "voice_id": "v", "pitch": 3 })).is_err());
    }

    #[test]
    fn the_request_is_the_providers_body() {
        let p = profile().checked().unwrap();
        let body = p.request("Your amp is ready.");
        assert_eq!(body["text"], "Your amp is ready.");
        assert_eq!(body["model_id"], DEFAULT_MODEL);
        assert_eq!(body["language_code"], "en");
        assert_eq!(body["voice_settings"]["stability"], 0.4);
        assert_eq!(body["voice_settings"]["use_speaker_boost"], true);
    }

    #[test]
    fn the_cache_key_changes_with_anything_that_changes_the_audio() {
        let p = profile().checked().unwrap();
        let key = p.cache_key("Hello");
        assert!(key.starts_with("tts/") && key.ends_with(".mp3") && key.len() == 4 + 64 + 4, "{key}");
        assert_eq!(key, p.cache_key("Hello"));
        assert_ne!(key, p.cache_key("Hello."));
        let mut q = p.clone();
        q.settings.stability = 0.41;
        assert_ne!(key, q.cache_key("Hello"));
        let mut q = p.clone();
        q.output_format = "mp3_44100_64".into();
        assert_ne!(key, q.cache_key("Hello"));
        let mut q = p.clone();
        q.name = "Renamed".into();
        assert_eq!(key, q.cache_key("Hello"), "the name does not change the audio");
    }

    #[test]
    fn a_customer_hears_their_repair_in_words() {
        assert_eq!(status_sentence(12, "Amp hums", "READY"), "Your repair number 12, Amp hums, is ready for pickup.");
        assert!(checked_text("   ").is_err());
        assert!(checked_text(&"a".repeat(MAX_TEXT + 1)).is_err());
        assert_eq!(checked_text("  hi ").unwrap(), "hi");
    }
}
