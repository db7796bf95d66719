//! The chat agent's built-in understanding, with no provider: what a customer is asking
//! for (intent) and which knowledge-base articles answer it (word-overlap retrieval).
//!
//! Deliberately small and predictable: a customer who asks for a person always gets one,
//! and a question the knowledge base does not cover is handed to a person rather than
//! answered by a guess.

/// What a customer's message asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intent {
    /// A person: "can I talk to a technician?"
    Human,
    /// Where their repair is.
    Status,
    /// What it costs, the quote.
    Quote,
    /// When the shop is open.
    Hours,
    Greeting,
    Thanks,
    /// Anything else: answered from the knowledge base, or handed to a person.
    Question,
}

impl Intent {
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Human => "human",
            Intent::Status => "status",
            Intent::Quote => "quote",
            Intent::Hours => "hours",
            Intent::Greeting => "greeting",
            Intent::Thanks => "thanks",
            Intent::Question => "question",
        }
    }
}

/// How much of a question an article must cover to be given as the answer.
pub const CONFIDENT: f64 = 0.5;

const STOPWORDS: &[&str] = &[
    "a", "about", "am", "an", "and", "any", "are", "as", "at", "be", "been", "but", "by", "can", "could", "did", "do",
    "does", "for", "from", "get", "got", "had", "has", "have", "hello", "hey", "hi", "how", "i", "if", "in", "into",
    "is", "it", "its", "just", "me", "much", "my", "need", "of", "on", "or", "our", "please", "so", "that", "the",
    "their", "them", "then", "there", "this", "to", "too", "up", "us", "was", "we", "what", "when", "where", "which",
    "who", "why", "will", "with", "would", "you", "your",
];

/// A word reduced to a comparable stem: lowercase, common English endings dropped.
fn stem(word: &str) -> String {
    let w = word.to_lowercase();
    let cut = |n: usize| w[..w.len() - n].to_owned();
    let long = |suffix: &str| w.len() > suffix.len() + 2 && w.ends_with(suffix);
    if long("ies") {
        return format!("{}y", cut(3));
    }
    if long("ing") || long("ed") {
        return cut(if w.ends_with("ing") { 3 } else { 2 });
    }
    if long("es") && ["ses", "xes", "zes", "ches", "shes"].iter().any(|s| w.ends_with(s)) {
        return cut(2);
    }
    if long("s") && !w.ends_with("ss") {
        return cut(1);
    }
    w
}

/// The meaningful words of `text`, stemmed, in order (repeats kept).
pub fn terms(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| !STOPWORDS.contains(&w.as_str()))
        .map(|w| stem(&w))
        .collect()
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'').filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

fn has_any(words: &[String], list: &[&str]) -> bool {
    words.iter().any(|w| list.contains(&w.as_str()))
}

fn has_phrase(text: &str, list: &[&str]) -> bool {
    list.iter().any(|p| text.contains(p))
}

/// What `text` asks for. Asking for a person wins over everything else.
pub fn intent(text: &str) -> Intent {
    let lower = text.to_lowercase();
    let w = words(&lower);
    let person = ["human", "person", "technician", "tech", "someone", "somebody", "staff", "agent", "representative"];
    if has_any(&w, &person) && !has_phrase(&lower, &["agent app", "device agent"])
        || has_phrase(&lower, &["talk to a", "speak to a", "speak with", "talk with", "call me", "real person"])
    {
        return Intent::Human;
    }
    if has_phrase(&lower, &["opening hours", "open on", "are you open", "when do you open", "when do you close"])
        || has_any(&w, &["hours", "open", "opening", "closed", "close", "weekend", "saturday", "sunday", "holiday"])
            && !has_any(&w, &["repair", "ticket", "device", "laptop", "phone"])
    {
        return Intent::Hours;
    }
    if has_any(&w, &["quote", "price", "cost", "costs", "estimate", "charge", "owe", "pay", "total", "expensive"])
        || has_phrase(&lower, &["how much"])
    {
        return Intent::Quote;
    }
    if has_any(&w, &["status", "ready", "progress", "done", "finished", "update", "eta"])
        || has_phrase(&lower, &["where is my", "how is my", "how's my", "when will", "how long", "is it fixed"])
    {
        return Intent::Status;
    }
    if has_any(&w, &["thanks", "thank", "thx", "cheers", "great", "perfect"]) && w.len() <= 6 {
        return Intent::Thanks;
    }
    if has_any(&w, &["hi", "hello", "hey", "morning", "afternoon", "evening"]) && w.len() <= 4 {
        return Intent::Greeting;
    }
    Intent::Question
}

/// A knowledge-base article as retrieval sees it.
pub struct Doc<'a> {
    pub title: &'a str,
    pub body: &'a str,
    pub tags: &'a str,
}

/// How well `doc` answers `query`, 0–1: the share of the query's distinct terms found in
/// the article, a title or tag hit counting fully and a body hit for three quarters.
pub fn score(query: &[String], doc: &Doc) -> f64 {
    let mut distinct: Vec<&String> = query.iter().collect();
    distinct.sort();
    distinct.dedup();
    if distinct.is_empty() {
        return 0.0;
    }
    let head: Vec<String> = terms(doc.title).into_iter().chain(terms(doc.tags)).collect();
    let body = terms(doc.body);
    let hits: f64 = distinct
        .iter()
        .map(|t| {
            if head.contains(t) {
                1.0
            } else if body.contains(t) {
                0.75
            } else {
                0.0
            }
        })
        .sum();
    hits / distinct.len() as f64
}

/// The articles that answer `question`, best first, with their scores (zero scores left
/// out).
pub fn rank(question: &str, docs: &[Doc]) -> Vec<(usize, f64)> {
    let query = terms(question);
    let mut ranked: Vec<(usize, f64)> =
        docs.iter().enumerate().map(|(i, d)| (i, score(&query, d))).filter(|(_, s)| *s > 0.0).collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked
}

/// A status as a customer reads it: `WAITING_PARTS` → "waiting for parts".
pub fn status_words(status: &str) -> &'static str {
    match status {
        "INTAKE" => "checked in",
        "TRIAGE" => "being triaged",
        "DIAGNOSTICS" => "in diagnostics",
        "AWAITING_APPROVAL" => "waiting for your approval of the quote",
        "APPROVED" => "approved and queued for repair",
        "WAITING_PARTS" => "waiting for parts",
        "IN_REPAIR" => "being repaired",
        "QC" => "in quality control",
        "READY" => "ready for pickup",
        "PICKED_UP" => "picked up",
        "CLOSED" => "closed",
        "VOID" => "cancelled",
        _ => "in progress",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asking_for_a_person_wins_over_everything() {
        for text in [
            "Can I talk to a technician?",
            "I want a human please",
            "speak with someone about my quote",
            "real person!",
        ] {
            assert_eq!(intent(text), Intent::Human, "{text}");
        }
    }

    #[test]
    fn common_questions_find_their_intent() {
        assert_eq!(intent("Where is my laptop repair?"), Intent::Status);
        assert_eq!(intent("is it ready yet"), Intent::Status);
        assert_eq!(intent("How much will the fan cost?"), Intent::Quote);
        assert_eq!(intent("What are your opening hours?"), Intent::Hours);
        assert_eq!(intent("are you open on Sunday"), Intent::Hours);
        assert_eq!(intent("hi there"), Intent::Greeting);
        assert_eq!(intent("thanks a lot"), Intent::Thanks);
        assert_eq!(intent("Do you back up my data before a repair?"), Intent::Question);
    }

    #[test]
    fn terms_drop_stopwords_and_endings() {
        assert_eq!(terms("Do you replace batteries?"), vec!["replace", "battery"]);
        assert_eq!(terms("Backing up files"), vec!["back", "file"]);
    }

    #[test]
    fn retrieval_prefers_the_article_that_covers_the_question() {
        let docs = [
            Doc { title: "Warranty", body: "Every repair carries a 90-day warranty on parts and labour.", tags: "" },
            Doc {
                title: "Your data",
                body: "We never wipe a drive without asking. Back up your files before you bring the device in.",
                tags: "backup privacy",
            },
        ];
        let ranked = rank("Will you wipe my files?", &docs);
        assert_eq!(ranked[0].0, 1);
        assert!(ranked[0].1 >= CONFIDENT, "{ranked:?}");
        let warranty = rank("how long is the warranty on a repair", &docs);
        assert_eq!(warranty[0].0, 0);
        assert!(rank("do you sell bicycles", &docs).iter().all(|(_, s)| *s < CONFIDENT));
        assert!(rank("", &docs).is_empty());
    }

    #[test]
    fn every_lifecycle_status_reads_as_words() {
        for s in crate::tickets::ALL {
            assert_ne!(status_words(s.as_str()), "in progress", "{}", s.as_str());
        }
    }
}
