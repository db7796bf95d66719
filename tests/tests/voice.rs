//! Text-to-speech end to end (issue 18) against the real `voice` worker in workerd with
//! real D1 and R2, and an ElevenLabs stand-in on loopback speaking its wire format
//! (`POST /v1/text-to-speech/{voice_id}/stream?output_format=…`, `xi-api-key`, the JSON
//! body) and answering with real MP3 audio (`shared/core/tests/data/voice/`, see its
//! README): profiles checked, speech streamed and cached in R2 (the second identical
//! request never reaches the provider), a customer with voice mode on hears their
//! repair's status, and without a key every speech route says so (503).

use noizylab_tests::*;
use serde_json::{json, Value};

const KEY: &str = "sk_test_0123456789abcdef0123456789abcdef";

fn mp3() -> Vec<u8> {
    std::fs::read(repo().join("shared/core/tests/data/voice/gsutil-test.mp3")).expect("test audio")
}

/// ElevenLabs: the key checked; any text spoken as the real MP3.
fn elevenlabs(r: &Received) -> (u16, &'static str, Vec<u8>) {
    if r.header("xi-api-key") != Some(KEY) {
        let body = json!({ "detail": { "status": "invalid_api_key", "message": "Invalid API key" } });
        return (401, "application/json", body.to_string().into_bytes());
    }
    if r.method == "POST" && r.path.starts_with("/v1/text-to-speech/") && r.path.contains("/stream?output_format=") {
        return (200, "audio/mpeg", mp3());
    }
    (404, "application/json", b"{\"detail\":\"not found\"}".to_vec())
}

fn speak(p: &Platform, token: &str, body: &Value) -> Reply {
    authed(p, "POST", "/api/v1/voice/speak", token, Some(body))
}

#[test]
fn speech_is_streamed_from_the_provider_once_then_served_from_r2() {
    let provider = StandIn::start_raw(elevenlabs);
    let env = [("NOIZYLAB_ELEVENLABS_BASE_URL", provider.url()), ("NOIZYLAB_ELEVENLABS_API_KEY", KEY.to_owned())];
    let p = Platform::fresh_with("voice", &env.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>());
    let owner = access(&sign_in(&p, OWNER_EMAIL));
    let tech = access(&technician(&p));

    // A profile, checked: the settings' ranges, the format, who may make one.
    let front = json!({ "name": "Front desk", "voice_id": "pNInz6obpgDQGcFmaJgB", "model_id": "eleven_turbo_v2_5",
                        "settings": { "stability": 0.4, "similarity_boost": 0.8 }, "language": "en", "is_default": true });
    let mut wrong = front.clone();
    wrong["settings"]["stability"] = json!(1.5);
    let r = authed(&p, "POST", "/api/v1/voice/profiles", &owner, Some(&wrong));
    assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some("settings.stability")), "{}", r.text());
    assert_eq!(authed(&p, "POST", "/api/v1/voice/profiles", &tech, Some(&front)).status, 403);
    let made = authed(&p, "POST", "/api/v1/voice/profiles", &owner, Some(&front));
    assert_eq!(made.status, 201, "{}", made.text());
    let profile = made.json()["id"].as_str().expect("profile").to_owned();
    assert_eq!(made.json()["output_format"], "mp3_44100_128");
    assert_eq!(authed(&p, "POST", "/api/v1/voice/profiles", &owner, Some(&front)).status, 409, "one name once");
    let listed = authed(&p, "GET", "/api/v1/voice/profiles", &tech, None).json();
    assert_eq!((listed["configured"].as_bool(), listed["profiles"].as_array().map(Vec::len)), (Some(true), Some(1)));

    // Spoken: the provider's real MP3, byte for byte, asked for in its wire format.
    let text = "Your amplifier is ready for pickup.";
    let first = speak(&p, &tech, &json!({ "text": text, "profile_id": profile }));
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.header("content-type"), Some("audio/mpeg"));
    assert_eq!(first.header("x-noizylab-cache"), Some("miss"));
    assert_eq!(first.body, mp3());
    let asked = provider.requests();
    assert_eq!(asked.len(), 1);
    let a = &asked[0];
    assert_eq!(a.path, "/v1/text-to-speech/pNInz6obpgDQGcFmaJgB/stream?output_format=mp3_44100_128");
    let sent: Value = serde_json::from_slice(&a.body).expect("JSON body");
    assert_eq!((sent["text"].as_str(), sent["model_id"].as_str()), (Some(text), Some("eleven_turbo_v2_5")));
    assert_eq!((sent["voice_settings"]["stability"].as_f64(), sent["language_code"].as_str()), (Some(0.4), Some("en")));

    // The same words again: from R2, the provider not asked; the default profile is the
    // same voice, so naming none finds the same audio.
    let again = speak(&p, &tech, &json!({ "text": text }));
    assert_eq!((again.status, again.header("x-noizylab-cache")), (200, Some("hit")), "{}", again.text());
    assert_eq!(again.body, mp3());
    assert_eq!(provider.requests().len(), 1, "the provider was called once");

    // Other settings are other audio: asked for again.
    let mut calmer = front.clone();
    calmer["settings"]["stability"] = json!(0.9);
    let put = authed(&p, "PUT", &format!("/api/v1/voice/profiles/{profile}"), &owner, Some(&calmer));
    assert_eq!(put.status, 200, "{}", put.text());
    let third = speak(&p, &tech, &json!({ "text": text, "profile_id": profile }));
    assert_eq!((third.status, third.header("x-noizylab-cache")), (200, Some("miss")));
    assert_eq!(provider.requests().len(), 2);

    // Bad input is named; a profile that is not the workspace's is refused.
    let empty = speak(&p, &tech, &json!({ "text": "  " }));
    assert_eq!((empty.status, empty.json()["error"]["field"].as_str()), (400, Some("text")));
    let other = speak(&p, &tech, &json!({ "text": "hi", "profile_id": "vp_nope" }));
    assert_eq!((other.status, other.json()["error"]["field"].as_str()), (400, Some("profile_id")));

    // A customer with voice mode on hears their repair's status; off, they are told how.
    let customer_email = unique_email("voice");
    let customer = access(&sign_in(&p, &customer_email));
    let t = authed(&p, "POST", "/api/v1/tickets", &customer, Some(&json!({ "title": "Amp hums" })));
    assert_eq!(t.status, 201, "{}", t.text());
    let (ticket, number) =
        (t.json()["id"].as_str().expect("id").to_owned(), t.json()["number"].as_i64().expect("number"));
    let status = format!("/api/v1/voice/tickets/{ticket}/status");
    let off = authed(&p, "GET", &status, &customer, None);
    assert_eq!(off.status, 409, "{}", off.text());
    assert!(off.text().contains("voice_mode"), "{}", off.text());
    let prefs = authed(&p, "PUT", "/api/v1/users/preferences", &customer, Some(&json!({ "voice_mode": true })));
    assert_eq!(prefs.status, 200, "{}", prefs.text());
    let heard = authed(&p, "GET", &status, &customer, None);
    assert_eq!((heard.status, heard.header("content-type")), (200, Some("audio/mpeg")), "{}", heard.text());
    let said: Value = serde_json::from_slice(&provider.requests().last().expect("asked").body).expect("JSON");
    assert_eq!(
        said["text"],
        format!("Your repair number {number}, Amp hums, has been received, and is waiting for a technician.")
    );
    let stranger = access(&sign_in(&p, &unique_email("voice-other")));
    assert_eq!(authed(&p, "GET", &status, &stranger, None).status, 404);
    p.stop();
}

#[test]
fn without_a_key_speech_says_it_is_not_configured() {
    let p = Platform::fresh("voice-off");
    let owner = access(&sign_in(&p, OWNER_EMAIL));
    let r = speak(&p, &owner, &json!({ "text": "Hello" }));
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.json()["error"]["message"].as_str().is_some_and(|m| m.contains("ELEVENLABS_API_KEY")), "{}", r.text());
    let listed = authed(&p, "GET", "/api/v1/voice/profiles", &owner, None).json();
    assert_eq!(listed["configured"], false);
    p.stop();
}
