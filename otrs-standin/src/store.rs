//! Tickets, articles, history, sessions and request counters kept in memory,
//! plus the fixed lookup tables of a stock Znuny 6.5.

use std::collections::{BTreeMap, HashMap};

/// Stock IDs of Znuny's ticket states: (name, id, state type).
pub const STATES: &[(&str, u32, &str)] = &[
    ("new", 1, "new"),
    ("closed successful", 2, "closed"),
    ("closed unsuccessful", 3, "closed"),
    ("open", 4, "open"),
    ("removed", 5, "removed"),
    ("pending reminder", 6, "pending reminder"),
    ("pending auto close+", 7, "pending auto"),
    ("pending auto close-", 8, "pending auto"),
    ("merged", 9, "merged"),
];

pub const PRIORITIES: &[(&str, u32)] = &[("1 very low", 1), ("2 low", 2), ("3 normal", 3), ("4 high", 4), ("5 very high", 5)];

pub const TYPES: &[(&str, u32)] = &[("Unclassified", 1), ("Incident", 2), ("Problem", 3), ("Service Request", 4)];

/// Communication channels (name, id); only the MIME based ones are usable
/// by TicketCreate/TicketUpdate.
pub const CHANNELS: &[(&str, u32)] = &[("Email", 1), ("Phone", 2), ("Internal", 3), ("Chat", 4)];

pub const SENDER_TYPES: &[(&str, u32)] = &[("agent", 1), ("system", 2), ("customer", 3)];

pub const AUTO_RESPONSE_TYPES: &[&str] = &["auto reply", "auto reject", "auto follow up", "auto reply/new ticket", "auto remove"];

pub const HISTORY_TYPES: &[(&str, u32)] = &[
    ("NewTicket", 1),
    ("FollowUp", 2),
    ("SendAutoReject", 3),
    ("SendAutoReply", 4),
    ("SendAutoFollowUp", 5),
    ("Forward", 6),
    ("Bounce", 7),
    ("SendAnswer", 8),
    ("SendAgentNotification", 9),
    ("SendCustomerNotification", 10),
    ("EmailAgent", 11),
    ("EmailCustomer", 12),
    ("PhoneCallAgent", 13),
    ("PhoneCallCustomer", 14),
    ("AddNote", 15),
    ("Move", 16),
    ("Lock", 17),
    ("Unlock", 18),
    ("Remove", 19),
    ("TimeAccounting", 20),
    ("CustomerUpdate", 21),
    ("PriorityUpdate", 22),
    ("OwnerUpdate", 23),
    ("LoopProtection", 24),
    ("Misc", 25),
    ("SetPendingTime", 26),
    ("StateUpdate", 27),
    ("TicketDynamicFieldUpdate", 28),
    ("WebRequestCustomer", 29),
    ("TicketLinkAdd", 30),
    ("TicketLinkDelete", 31),
    ("SystemRequest", 32),
    ("Merged", 33),
    ("ResponsibleUpdate", 34),
    ("Subscribe", 35),
    ("Unsubscribe", 36),
    ("TypeUpdate", 37),
    ("ServiceUpdate", 38),
    ("SLAUpdate", 39),
    ("ArchiveFlagUpdate", 40),
    ("EscalationSolutionTimeStop", 41),
    ("EscalationResponseTimeStart", 42),
    ("EscalationUpdateTimeStart", 43),
    ("EscalationSolutionTimeStart", 44),
    ("EscalationResponseTimeNotifyBefore", 45),
    ("EscalationUpdateTimeNotifyBefore", 46),
    ("EscalationSolutionTimeNotifyBefore", 47),
    ("EscalationResponseTimeStop", 48),
    ("EscalationUpdateTimeStop", 49),
    ("TitleUpdate", 50),
    ("EmailResend", 51),
];

pub fn lookup<'a>(table: &'a [(&'a str, u32)], name: &str) -> Option<u32> {
    table.iter().find(|(n, _)| *n == name).map(|(_, id)| *id)
}

pub fn state(name: &str) -> Option<(u32, &'static str)> {
    STATES.iter().find(|(n, _, _)| *n == name).map(|(_, id, t)| (*id, *t))
}

pub fn history_type_id(name: &str) -> u32 {
    lookup(HISTORY_TYPES, name).unwrap_or(25)
}

/// Queue IDs: stock queues keep their stock IDs, others follow.
pub fn queue_table(queues: &[String]) -> Vec<(String, u32)> {
    let stock = [("Postmaster", 1), ("Raw", 2), ("Junk", 3), ("Misc", 4)];
    let mut next = 5;
    queues
        .iter()
        .map(|q| match stock.iter().find(|(n, _)| n == q) {
            Some((_, id)) => (q.clone(), *id),
            None => {
                let id = next;
                next += 1;
                (q.clone(), id)
            }
        })
        .collect()
}

#[derive(Debug, Clone)]
pub struct Article {
    pub id: u64,
    pub ticket_id: u64,
    pub from: String,
    pub to: String,
    pub subject: String,
    pub body: String,
    pub content_type: String,
    pub charset: String,
    pub mime_type: String,
    pub channel: String,
    pub sender_type: String,
    pub visible: bool,
    pub created: i64,
    pub time_unit: String,
    /// Files stored with the article, in the order they came
    /// (Kernel::System::Ticket::Article::Backend::MIMEBase::ArticleWriteAttachment).
    pub attachments: Vec<Attachment>,
}

/// One stored file of an article, byte-exact (rest/30, generic-interface/42).
#[derive(Debug, Clone)]
pub struct Attachment {
    pub content: Vec<u8>,
    pub content_type: String,
    pub filename: String,
    pub disposition: String,
}

#[derive(Debug, Clone)]
pub struct History {
    pub article_id: u64,
    pub create_time: i64,
    pub history_type: String,
    pub name: String,
    pub owner_id: u32,
    pub priority_id: u32,
    pub queue_id: u32,
    pub state_id: u32,
    pub type_id: u32,
}

#[derive(Debug, Clone)]
pub struct Ticket {
    pub id: u64,
    pub tn: String,
    pub title: String,
    pub queue: String,
    pub queue_id: u32,
    pub state: String,
    pub priority: String,
    pub type_name: String,
    pub customer_user: String,
    pub customer_id: String,
    pub owner_id: u32,
    pub created: i64,
    pub changed: i64,
    pub unlock_timeout: i64,
    pub until_time: i64,
    pub articles: Vec<Article>,
    pub history: Vec<History>,
    pub lock: String,
    pub responsible_id: u32,
    pub time_unit_total: f64,
    /// Ticket dynamic field values (name, value).
    pub dynamic_fields: Vec<(String, String)>,
}

impl Ticket {
    pub fn state_id(&self) -> u32 {
        state(&self.state).map(|s| s.0).unwrap_or(1)
    }
    pub fn state_type(&self) -> &'static str {
        state(&self.state).map(|s| s.1).unwrap_or("new")
    }
    pub fn priority_id(&self) -> u32 {
        lookup(PRIORITIES, &self.priority).unwrap_or(3)
    }
    pub fn type_id(&self) -> u32 {
        lookup(TYPES, &self.type_name).unwrap_or(1)
    }
    pub fn add_history(&mut self, now: i64, article_id: u64, ht: &str, name: String) {
        let h = History {
            article_id,
            create_time: now,
            history_type: ht.to_string(),
            name,
            owner_id: self.owner_id,
            priority_id: self.priority_id(),
            queue_id: self.queue_id,
            state_id: self.state_id(),
            type_id: self.type_id(),
        };
        self.history.push(h);
    }
    /// Kernel::System::Ticket::Article::Backend::MIMEBase::ArticleCreate's
    /// unlock-timeout rule.
    pub fn add_article(&mut self, a: Article, now: i64, history_type: &str, history_comment: &str) {
        let sender = a.sender_type.clone();
        let id = a.id;
        let last_sender = self.articles.iter().rev().find(|x| x.sender_type != "system").map(|x| x.sender_type.clone());
        self.articles.push(a);
        self.changed = now;
        self.add_history(now, id, history_type, history_comment.to_string());
        let reset = match sender.as_str() {
            "customer" => last_sender.as_deref() == Some("agent"),
            "agent" => true,
            _ => false,
        };
        if reset && self.unlock_timeout != now {
            self.unlock_timeout = now;
            self.add_history(now, 0, "Misc", "Reset of unlock time.".into());
        }
    }
}

#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: u32,
    pub login: String,
    pub created: i64,
    pub last_used: i64,
}

/// Session lifetime as Znuny's defaults: SessionMaxTime 16 h,
/// SessionMaxIdleTime 2 h.
pub const SESSION_MAX_TIME: i64 = 16 * 3600;
pub const SESSION_MAX_IDLE: i64 = 2 * 3600;

pub const FIRST_ID: u64 = 2;

/// What rpc.pl's tickets need beyond [`Ticket`]: their control line is
/// rebuilt when OTRS 5's ArticleCreate adds the first article.
#[derive(Debug, Clone)]
pub struct RpcMeta {
    pub received_at_ms: i64,
    pub soapaction: String,
    /// TicketCreate's UserID (CreateBy/ChangeBy in TicketGet)
    pub create_by: u32,
}

#[derive(Debug)]
pub struct Store {
    pub tickets: Vec<Ticket>,
    pub next_ticket_id: u64,
    pub next_article_id: u64,
    /// (YYYYMMDD, last counter) of the DateChecksum ticket number generator
    pub tn_counter: (String, u64),
    pub sessions: HashMap<String, Session>,
    pub requests: BTreeMap<String, u64>,
    /// the control lines (tickets and later articles) in creation order
    pub lines: Vec<String>,
    /// tickets created through rpc.pl
    pub rpc_meta: HashMap<u64, RpcMeta>,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            tickets: Vec::new(),
            next_ticket_id: FIRST_ID,
            next_article_id: FIRST_ID,
            tn_counter: (String::new(), 0),
            sessions: HashMap::new(),
            requests: BTreeMap::new(),
            lines: Vec::new(),
            rpc_meta: HashMap::new(),
        }
    }
}

impl Store {
    /// Forget tickets and counters (sessions stay valid).
    /// Forgets tickets and counters, keeps sessions and the ID counters: a
    /// real OTRS never hands out a TicketID twice, and a module that
    /// remembers a ticket of a call before the reset must not find a
    /// different ticket under that ID.
    pub fn reset(&mut self) {
        let sessions = std::mem::take(&mut self.sessions);
        let (ticket_id, article_id, tn) = (self.next_ticket_id, self.next_article_id, self.tn_counter.clone());
        *self = Store::default();
        self.sessions = sessions;
        (self.next_ticket_id, self.next_article_id, self.tn_counter) = (ticket_id, article_id, tn);
    }

    pub fn count_request(&mut self, op: &str) {
        *self.requests.entry(op.to_string()).or_insert(0) += 1;
    }

    pub fn ticket(&self, id: u64) -> Option<&Ticket> {
        self.tickets.iter().find(|t| t.id == id)
    }
    pub fn ticket_mut(&mut self, id: u64) -> Option<&mut Ticket> {
        self.tickets.iter_mut().find(|t| t.id == id)
    }

    /// Kernel::System::Ticket::Number::DateChecksum with SystemID 10.
    pub fn next_ticket_number(&mut self, now: i64) -> String {
        let date = ymd(now);
        if self.tn_counter.0 != date {
            self.tn_counter = (date.clone(), 0);
        }
        self.tn_counter.1 += 1;
        ticket_number(&date, "10", self.tn_counter.1)
    }

    pub fn session_check(&mut self, id: &str, now: i64) -> Option<Session> {
        let s = self.sessions.get_mut(id)?;
        if now - s.created > SESSION_MAX_TIME || now - s.last_used > SESSION_MAX_IDLE {
            self.sessions.remove(id);
            return None;
        }
        s.last_used = now;
        Some(s.clone())
    }
}

pub fn ticket_number(date: &str, system_id: &str, counter: u64) -> String {
    let base = format!("{}{}{:05}", date, system_id, counter);
    let mut sum: u32 = 0;
    let mut mult = 1;
    for d in base.bytes() {
        sum += mult * (d - b'0') as u32;
        mult += 1;
        if mult == 3 {
            mult = 1;
        }
    }
    sum %= 10;
    let mut chk = 10 - sum;
    if chk == 10 {
        chk = 1;
    }
    format!("{}{}", base, chk)
}

/// Civil date of a unix time (UTC): (year, month, day, h, m, s).
pub fn civil(t: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = t.div_euclid(86400);
    let secs = t.rem_euclid(86400);
    // Howard Hinnant's days_from_civil inverse
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = if m <= 2 { y + 1 } else { y };
    (y, m, d, (secs / 3600) as u32, (secs % 3600 / 60) as u32, (secs % 60) as u32)
}

pub fn ymd(t: i64) -> String {
    let (y, m, d, ..) = civil(t);
    format!("{:04}{:02}{:02}", y, m, d)
}

/// `2026-11-26 08:28:38`
pub fn timestamp(t: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(t);
    format!("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", y, mo, d, h, mi, s)
}

/// Escape a control-line value: \ → \\, TAB → \t, LF → \n, CR → \r.
pub fn esc_value(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '\t' => o.push_str("\\t"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            c => o.push(c),
        }
    }
    o
}

pub fn control_line(prefix: Option<&str>, fields: &[(&str, String)]) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(p) = prefix {
        parts.push(p.to_string());
    }
    for (k, v) in fields {
        parts.push(format!("{}={}", k, esc_value(v)));
    }
    parts.join("\t")
}

// ---------------------------------------------------------------------------
// Search helpers (Kernel::System::DB::QueryCondition and the DB article
// search index, as TicketSearch uses them)
// ---------------------------------------------------------------------------

/// SQL LIKE with `%` (any run) and `_` taken literally (Znuny quotes `_`).
/// Case-insensitive as MariaDB's default collation is.
pub fn like(pattern: &str, value: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let v: Vec<char> = value.to_lowercase().chars().collect();
    // iterative wildcard match
    let (mut pi, mut vi) = (0usize, 0usize);
    let (mut star, mut mark) = (None::<usize>, 0usize);
    while vi < v.len() {
        if pi < p.len() && p[pi] == '%' {
            star = Some(pi);
            mark = vi;
            pi += 1;
        } else if pi < p.len() && p[pi] == v[vi] {
            pi += 1;
            vi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            vi = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '%' {
        pi += 1;
    }
    pi == p.len()
}

#[derive(Debug, Clone, PartialEq)]
enum Cond {
    Word(String, bool), // pattern, negated
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
}

/// A search expression as Kernel::System::DB::QueryCondition understands it
/// (non-extended mode): `*` wildcard, `&&`/`+`/AND, `||`/OR, `!` negation,
/// parentheses, "quoted phrases". A word without wildcard is an exact
/// (case-insensitive) match.
pub struct QueryCondition {
    cond: Option<Cond>,
}

impl QueryCondition {
    pub fn new(value: &str, prefix: &str, suffix: &str) -> QueryCondition {
        let mut v = value.trim().to_string();
        // quoted phrases
        let mut phrases: Vec<String> = Vec::new();
        let mut out = String::new();
        let mut rest = v.as_str();
        while let Some(a) = rest.find('"') {
            match rest[a + 1..].find('"') {
                Some(b) if b > 0 => {
                    out.push_str(&rest[..a]);
                    out.push_str(&format!("###{}###", phrases.len()));
                    phrases.push(rest[a + 1..a + 1 + b].to_string());
                    rest = &rest[a + 1 + b + 1..];
                }
                _ => break,
            }
        }
        out.push_str(rest);
        v = out;
        v = v.replace('*', "%");
        while v.contains("%%") {
            v = v.replace("%%", "%");
        }
        v = v.replace('+', "&&");
        for (from, to) in [(" AND ", "&&"), (" OR ", "||"), (")AND(", ")&&("), (")OR(", ")||(")] {
            v = v.replace(from, to);
        }
        v = v.replace("%!%", "!%").replace("%!", "!%");
        let toks = tokenize(&v);
        let mut p = CondParser { toks, i: 0, phrases, prefix: prefix.to_string(), suffix: suffix.to_string() };
        let cond = p.or();
        QueryCondition { cond }
    }

    pub fn matches(&self, value: &str) -> bool {
        match &self.cond {
            None => true,
            Some(c) => eval(c, value),
        }
    }
}

fn eval(c: &Cond, value: &str) -> bool {
    match c {
        Cond::Word(p, neg) => {
            let m = if p.contains('%') { like(p, value) } else { p.to_lowercase() == value.to_lowercase() };
            m != *neg
        }
        Cond::And(a, b) => eval(a, value) && eval(b, value),
        Cond::Or(a, b) => eval(a, value) || eval(b, value),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    And,
    Or,
    Not,
    Open,
    Close,
}

fn tokenize(v: &str) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut word = String::new();
    let chars: Vec<char> = v.chars().collect();
    let mut i = 0;
    let flush = |word: &mut String, toks: &mut Vec<Tok>| {
        let w = word.trim().to_string();
        if !w.is_empty() {
            toks.push(Tok::Word(w));
        }
        word.clear();
    };
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() {
            word.push(chars[i + 1]);
            i += 2;
            continue;
        }
        match c {
            '&' if chars.get(i + 1) == Some(&'&') => {
                flush(&mut word, &mut toks);
                toks.push(Tok::And);
                i += 2;
                continue;
            }
            '|' if chars.get(i + 1) == Some(&'|') => {
                flush(&mut word, &mut toks);
                toks.push(Tok::Or);
                i += 2;
                continue;
            }
            '!' if word.trim().is_empty() => {
                flush(&mut word, &mut toks);
                toks.push(Tok::Not);
            }
            '(' => {
                flush(&mut word, &mut toks);
                toks.push(Tok::Open);
            }
            ')' => {
                flush(&mut word, &mut toks);
                toks.push(Tok::Close);
            }
            c => word.push(c),
        }
        i += 1;
    }
    flush(&mut word, &mut toks);
    toks
}

struct CondParser {
    toks: Vec<Tok>,
    i: usize,
    phrases: Vec<String>,
    prefix: String,
    suffix: String,
}

impl CondParser {
    fn or(&mut self) -> Option<Cond> {
        let mut left = self.and();
        while self.toks.get(self.i) == Some(&Tok::Or) {
            self.i += 1;
            let right = self.and();
            left = match (left, right) {
                (Some(a), Some(b)) => Some(Cond::Or(Box::new(a), Box::new(b))),
                (a, b) => a.or(b),
            };
        }
        left
    }
    fn and(&mut self) -> Option<Cond> {
        let mut left = self.unary();
        loop {
            match self.toks.get(self.i) {
                Some(Tok::And) => {
                    self.i += 1;
                }
                Some(Tok::Word(_)) | Some(Tok::Not) | Some(Tok::Open) => {}
                _ => break,
            }
            let right = self.unary();
            left = match (left, right) {
                (Some(a), Some(b)) => Some(Cond::And(Box::new(a), Box::new(b))),
                (a, b) => a.or(b),
            };
        }
        left
    }
    fn unary(&mut self) -> Option<Cond> {
        match self.toks.get(self.i).cloned() {
            Some(Tok::Not) => {
                self.i += 1;
                match self.unary() {
                    Some(Cond::Word(w, n)) => Some(Cond::Word(w, !n)),
                    other => other,
                }
            }
            Some(Tok::Open) => {
                self.i += 1;
                let c = self.or();
                if self.toks.get(self.i) == Some(&Tok::Close) {
                    self.i += 1;
                }
                c
            }
            Some(Tok::Word(w)) => {
                self.i += 1;
                let mut w = w;
                if let Some(n) = w.strip_prefix("###").and_then(|x| x.strip_suffix("###")) {
                    if let Ok(k) = n.parse::<usize>() {
                        if let Some(p) = self.phrases.get(k) {
                            w = p.clone();
                        }
                    }
                }
                let mut w = format!("{}{}{}", self.prefix, w, self.suffix).replace('*', "%");
                while w.contains("%%") {
                    w = w.replace("%%", "%");
                }
                Some(Cond::Word(w, false))
            }
            Some(Tok::And) | Some(Tok::Or) | Some(Tok::Close) => {
                self.i += 1;
                None
            }
            None => None,
        }
    }
}

/// English stop words of Ticket::SearchIndex::StopWords###en.
const STOP_WORDS_EN: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "am",
    "an",
    "and",
    "any",
    "are",
    "aren't",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can't",
    "cannot",
    "could",
    "couldn't",
    "did",
    "didn't",
    "do",
    "does",
    "doesn't",
    "doing",
    "don't",
    "down",
    "during",
    "each",
    "few",
    "for",
    "from",
    "further",
    "had",
    "hadn't",
    "has",
    "hasn't",
    "have",
    "haven't",
    "having",
    "he",
    "he'd",
    "he'll",
    "he's",
    "her",
    "here",
    "here's",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "how's",
    "i",
    "i'd",
    "i'll",
    "i'm",
    "i've",
    "if",
    "in",
    "into",
    "is",
    "isn't",
    "it",
    "it's",
    "its",
    "itself",
    "let's",
    "me",
    "more",
    "most",
    "mustn't",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "ought",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "same",
    "shan't",
    "she",
    "she'd",
    "she'll",
    "she's",
    "should",
    "shouldn't",
    "so",
    "some",
    "such",
    "than",
    "that",
    "that's",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "there's",
    "these",
    "they",
    "they'd",
    "they'll",
    "they're",
    "they've",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "very",
    "was",
    "wasn't",
    "we",
    "we'd",
    "we'll",
    "we're",
    "we've",
    "were",
    "weren't",
    "what",
    "what's",
    "when",
    "when's",
    "where",
    "where's",
    "which",
    "while",
    "who",
    "who's",
    "whom",
    "why",
    "why's",
    "with",
    "won't",
    "would",
    "wouldn't",
    "you",
    "you'd",
    "you'll",
    "you're",
    "you've",
    "your",
    "yours",
    "yourself",
    "yourselves",
];

/// The string the DB article search index stores for a filterable field
/// (Subject, Body): words filtered by Ticket::SearchIndex::Filters,
/// lower-cased, stop words and words outside 3..30 characters dropped,
/// duplicates dropped, first 1000 words.
pub fn search_index_filtered(s: &str) -> String {
    let mut seen: Vec<String> = Vec::new();
    let mut count = 0;
    for w in s.split_whitespace() {
        // filter 1: strip , & < > ? " ! * | ; [ ] ( ) + $ ^ =
        let mut w: String = w.chars().filter(|c| !",&<>?\"!*|;[]()+$^=".contains(*c)).collect();
        // filter 2: one leading and one trailing ' : .
        if w.starts_with(['\'', ':', '.']) {
            w.remove(0);
        }
        if w.ends_with(['\'', ':', '.']) {
            w.pop();
        }
        // filter 3: words without a word character go
        if !w.chars().any(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let w = w.to_lowercase();
        if STOP_WORDS_EN.contains(&w.as_str()) {
            continue;
        }
        let len = w.chars().count();
        if !(3..=30).contains(&len) {
            continue;
        }
        count += 1;
        if count > 1000 {
            break;
        }
        if !seen.contains(&w) {
            seen.push(w);
        }
    }
    seen.join(" ")
}

/// Unfiltered index fields (From, To, Cc) are stored lower-cased with line
/// breaks and tabs made spaces.
pub fn search_index_plain(s: &str) -> String {
    s.to_lowercase().replace(['\r', '\n', '\t'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_numbers_match_sample() {
        assert_eq!(ticket_number("20261126", "10", 1), "2026112610000015");
        assert_eq!(ticket_number("20261126", "10", 2), "2026112610000024");
        assert_eq!(ticket_number("20261126", "10", 3), "2026112610000033");
        assert_eq!(timestamp(1795681718), "2026-11-26 08:28:38");
    }

    #[test]
    fn query_condition() {
        let q = QueryCondition::new("Incoming call*", "", "");
        assert!(q.matches("incoming call from 8916"));
        assert!(!q.matches("An incoming call"));
        let q = QueryCondition::new("ivanov", "", "");
        assert!(q.matches("Ivanov"));
        assert!(!q.matches("ivanov2"));
        let q = QueryCondition::new("a*||b*", "", "");
        assert!(q.matches("bx") && q.matches("ax") && !q.matches("cx"));
        let q = QueryCondition::new("!foo", "", "");
        assert!(q.matches("bar") && !q.matches("foo"));
        assert!(like("%89161229624%", "inbound call 89161229624 customer"));
        assert!(!like("%a_c%", "abc"));
        assert!(like("%a_c%", "a_c"));
    }

    #[test]
    fn index_filter() {
        let s = search_index_filtered(
            "Inbound call from 89161229624 (customer ivanov).\nCall-ID: 1700000000.42, duration 00:02:15, answered by ext. 101.",
        );
        assert_eq!(s, "inbound call 89161229624 customer ivanov call-id 1700000000.42 duration 00:02:15 answered ext 101");
    }
}
