//! The GenericTicketConnectorSOAP operations, following Znuny 6.5's
//! Kernel/GenericInterface/Operation/{Session,Ticket}/*.pm: same checks in
//! the same order, same ErrorCode/ErrorMessage texts.
//!
//! `--flavour otobo` answers these the same: RotherOSS/otobo's
//! Session/SessionCreate.pm (Run: the same checks, codes and texts) and
//! Ticket/TicketSearch.pm (Run, _GetParams, _GetDynamicFields,
//! _CreateTimeSettings: the same options, `DynamicField` search syntax,
//! `{}` for no hit, Limit default 500; only a `CustomerIDRaw` list more,
//! which no client sends) and Ticket/TicketCreate.pm (Run: the same
//! checks, codes and texts) read as Znuny's. Its differences are in the
//! transport (http.rs: namespace, SOAPAction check, unknown web service).

use crate::db::{Customer, Customers};
use crate::soap::{error_data, perl_true, val_true, Hash, Val};
use crate::store::{self, Article, Store, Ticket};
use std::sync::Mutex;

pub const AGENT_USER_ID: u32 = 2;

/// What an operation needs from the running stand-in.
pub struct Ctx<'a> {
    pub user: &'a str,
    pub password: &'a str,
    /// the agent's first and last name (UserFullname, used as the From of
    /// agent articles added by TicketUpdate)
    pub agent_name: &'a str,
    pub queues: &'a [(String, u32)],
    pub store: &'a Mutex<Store>,
    pub customers: &'a Customers,
    pub now: i64,
    pub now_ms: i64,
    pub soapaction: &'a str,
    /// --mode error: every TicketCreate fails with InvalidParameter
    pub error_mode: bool,
    /// Agents besides root@localhost (1) and the SOAP agent (2): UserIDs 3,
    /// 4, ... in this order (--agents); Ticket/Owner takes their logins (41).
    pub agents: &'a [String],
    /// The largest file the database takes (--max-file-bytes, default
    /// [`MAX_STORED_FILE`]).
    pub max_file: usize,
    /// The ticket dynamic fields configured (--dynamic-fields).
    pub dynamic_fields: &'a [String],
}

pub enum Outcome {
    /// Success => 1: the reply data (possibly an Error structure)
    Data(Hash),
    /// Success => 0: a transport fault with this faultstring (HTTP 500);
    /// Znuny's operations return it for internal errors only
    #[allow(dead_code)]
    Fault(String),
}

pub struct OpResult {
    pub outcome: Outcome,
    /// new ticket lines for --record
    pub ticket_lines: Vec<String>,
}

fn data(h: Hash) -> OpResult {
    OpResult { outcome: Outcome::Data(h), ticket_lines: Vec::new() }
}
fn err(code: &str, msg: &str) -> OpResult {
    data(error_data(code, msg))
}

/// Runs an operation; None for an operation the web service does not have
/// (the caller answers the "Got no OperationType!" fault).
pub fn run(op: &str, d: &Val, ctx: &Ctx) -> Option<OpResult> {
    let empty = Hash::new();
    let h = d.as_hash().unwrap_or(&empty);
    Some(match op {
        "SessionCreate" => session_create(d, h, ctx),
        "TicketCreate" => ticket_create(h, ctx),
        "TicketGet" => ticket_get(h, ctx),
        "TicketHistoryGet" => ticket_history_get(h, ctx),
        "TicketSearch" => ticket_search(h, ctx),
        "TicketUpdate" => ticket_update(d, h, ctx),
        _ => return None,
    })
}

fn lock(m: &Mutex<Store>) -> std::sync::MutexGuard<'_, Store> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A string parameter (only plain strings count).
fn sv(h: &Hash, k: &str) -> Option<String> {
    h.get(k).and_then(|v| v.as_str()).map(str::to_string)
}
/// Perl truth of a parameter.
fn tv(h: &Hash, k: &str) -> bool {
    val_true(h.get(k))
}
/// A truthy string parameter.
fn ts(h: &Hash, k: &str) -> Option<String> {
    sv(h, k).filter(|s| perl_true(s))
}

/// Remove leading and trailing white space of every scalar attribute.
fn trimmed(h: &Hash) -> Hash {
    h.iter()
        .map(|(k, v)| {
            let v = match v {
                Val::Str(s) => Val::Str(s.trim().to_string()),
                o => o.clone(),
            };
            (k.clone(), v)
        })
        .collect()
}

fn random_session_id() -> String {
    use std::io::Read;
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 64];
    let ok = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)).is_ok();
    if !ok {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = ((t >> (i % 16)) as u8).wrapping_mul(31).wrapping_add(i as u8);
        }
    }
    let mut s = String::new();
    for b in bytes.iter() {
        // rejection sampling keeps the distribution uniform
        if (*b as usize) < 248 && s.len() < 32 {
            s.push(ALNUM[*b as usize % 62] as char);
        }
    }
    while s.len() < 32 {
        s.push('x');
    }
    s
}

/// How the caller authenticated: Some((UserID, "session"|"login")).
fn auth(h: &Hash, ctx: &Ctx) -> Option<(u32, &'static str)> {
    if let Some(sid) = ts(h, "SessionID") {
        let s = lock(ctx.store).session_check(&sid, ctx.now)?;
        return Some((s.user_id, "session"));
    }
    if ts(h, "UserLogin").is_some() {
        if check_agent(h, ctx) {
            return Some((AGENT_USER_ID, "login"));
        }
        return None;
    }
    // CustomerUserLogin: customer authentication is not offered here
    None
}

fn check_agent(h: &Hash, ctx: &Ctx) -> bool {
    let login = sv(h, "UserLogin").unwrap_or_default();
    let pw = sv(h, "Password").unwrap_or_default();
    // MariaDB's collation makes the login lookup case-insensitive
    login.to_lowercase() == ctx.user.to_lowercase() && pw == ctx.password
}

// ---------------------------------------------------------------------------

fn session_create(d: &Val, h: &Hash, ctx: &Ctx) -> OpResult {
    if !d.is_hash_with_data() {
        return err("SessionCreate.MissingParameter", "SessionCreate: The request is empty!");
    }
    if !tv(h, "Password") {
        return err("SessionCreate.MissingParameter", "SessionCreate: Password parameter is missing!");
    }
    if ts(h, "UserLogin").is_none() || !check_agent(h, ctx) {
        return err("SessionCreate.AuthFail", "SessionCreate: Authorization failing!");
    }
    let id = random_session_id();
    lock(ctx.store).sessions.insert(
        id.clone(),
        store::Session { user_id: AGENT_USER_ID, login: ctx.user.to_string(), created: ctx.now, last_used: ctx.now },
    );
    let mut r = Hash::new();
    r.insert("SessionID".into(), Val::s(id));
    data(r)
}

// ---------------------------------------------------------------------------
// validation helpers (Operation::Ticket::Common)

/// CheckItem::CheckEmail's syntax check (no MX lookup).
pub fn check_email(a: &str) -> bool {
    let (local, domain) = match a.rsplit_once('@') {
        Some(x) => x,
        None => return false,
    };
    let lc: Vec<char> = local.chars().collect();
    if lc.is_empty() || !lc[0].is_ascii_alphanumeric() {
        return false;
    }
    if lc.len() > 1 {
        let mid_ok = lc[1..lc.len() - 1].iter().all(|c| c.is_ascii_alphanumeric() || "_+.&%-".contains(*c) || *c == '\'');
        let last = lc[lc.len() - 1];
        if !mid_ok || !(last.is_ascii_alphanumeric() || "_'.-".contains(last)) {
            return false;
        }
    }
    if domain.starts_with('[') && domain.ends_with(']') {
        let ip = &domain[1..domain.len() - 1];
        return ip.split('.').count() == 4 && ip.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    }
    let dc: Vec<char> = domain.chars().collect();
    if dc.is_empty() || !dc[0].is_ascii_alphanumeric() {
        return false;
    }
    if !dc.iter().all(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-') {
        return false;
    }
    let (host, tld) = match domain.rsplit_once('.') {
        Some(x) => x,
        None => return false,
    };
    let host = host.trim_end_matches('.');
    !host.is_empty()
        && host.chars().last().map(|c| c.is_ascii_alphanumeric()).unwrap_or(false)
        && (2..=63).contains(&tld.len())
        && tld.chars().all(|c| c.is_ascii_alphabetic())
}

/// The address Mail::Address->parse finds first in a From string.
fn first_address(s: &str) -> Option<String> {
    let first = s.split(',').map(str::trim).find(|x| !x.is_empty())?;
    if let (Some(a), Some(b)) = (first.find('<'), first.rfind('>')) {
        if a < b {
            return Some(first[a + 1..b].trim().to_string());
        }
    }
    // drop (comments) and quotes
    let mut out = String::new();
    let mut depth = 0;
    for c in first.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            '"' => {}
            c => out.push(c),
        }
    }
    let out = out.trim().to_string();
    if out.is_empty() {
        None
    } else {
        Some(out.split_whitespace().last().unwrap_or("").to_string())
    }
}

fn validate_from(s: &str) -> bool {
    if !perl_true(s) {
        return false;
    }
    match first_address(s) {
        Some(a) => check_email(&a),
        None => true,
    }
}

/// Customer lookup; a database failure counts as "not found" (and is
/// logged).
fn customer_by_login(ctx: &Ctx, login: &str) -> Option<Customer> {
    match ctx.customers.by_login(login) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("customer lookup failed: {}", e);
            None
        }
    }
}
fn customer_by_email(ctx: &Ctx, email: &str) -> Option<Customer> {
    match ctx.customers.by_email(email) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("customer lookup failed: {}", e);
            None
        }
    }
}

fn validate_customer(ctx: &Ctx, cu: &str) -> bool {
    if cu.is_empty() {
        return false;
    }
    match customer_by_login(ctx, cu) {
        Some(c) => c.valid_id == 1,
        None => validate_from(cu),
    }
}

fn queue_by_name<'a>(ctx: &'a Ctx, name: &str) -> Option<&'a (String, u32)> {
    ctx.queues.iter().find(|(n, _)| n == name)
}
fn queue_by_id<'a>(ctx: &'a Ctx, id: &str) -> Option<&'a (String, u32)> {
    ctx.queues.iter().find(|(_, i)| i.to_string() == id)
}
/// Queue name from Queue/QueueID as ValidateQueue reads them.
fn resolve_queue(ctx: &Ctx, t: &Hash) -> Option<(String, u32)> {
    if let Some(q) = ts(t, "Queue").filter(|_| !tv(t, "QueueID")) {
        return queue_by_name(ctx, &q).cloned();
    }
    if let Some(id) = ts(t, "QueueID") {
        return queue_by_id(ctx, &id).cloned();
    }
    None
}

fn by_name_or_id(table: &[(&str, u32)], t: &Hash, name_key: &str, id_key: &str) -> Option<(String, u32)> {
    if let Some(n) = ts(t, name_key).filter(|_| !tv(t, id_key)) {
        return table.iter().find(|(x, _)| *x == n).map(|(x, i)| (x.to_string(), *i));
    }
    if let Some(id) = ts(t, id_key) {
        return table.iter().find(|(_, i)| i.to_string() == id).map(|(x, i)| (x.to_string(), *i));
    }
    None
}

fn resolve_state(t: &Hash) -> Option<(String, u32)> {
    let table: Vec<(&str, u32)> = store::STATES.iter().map(|(n, i, _)| (*n, *i)).collect();
    by_name_or_id(&table, t, "State", "StateID")
}

const LOCKS: &[(&str, u32)] = &[("unlock", 1), ("lock", 2), ("tmp_lock", 3)];

/// Users the stand-in knows: root@localhost (1), the agent (2) and the
/// --agents (3, 4, ...).
fn user_login(ctx: &Ctx, id: u32) -> String {
    match id {
        1 => "root@localhost".into(),
        2 => ctx.user.to_string(),
        n => ctx.agents.get(n as usize - 3).cloned().unwrap_or_default(),
    }
}
fn resolve_user(ctx: &Ctx, t: &Hash, name_key: &str, id_key: &str) -> Option<u32> {
    let known = 2 + ctx.agents.len() as u32;
    if let Some(id) = ts(t, id_key) {
        return id.parse::<u32>().ok().filter(|i| (1..=known).contains(i));
    }
    let n = ts(t, name_key)?.to_lowercase();
    (1..=known).find(|i| user_login(ctx, *i).to_lowercase() == n)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// ValidatePendingTime, returning the pending time as unix time.
fn pending_time(v: Option<&Val>, now: i64) -> Option<i64> {
    let h = v?.as_hash()?;
    if h.is_empty() {
        return None;
    }
    let h = trimmed(h);
    if let Some(diff) = h.get("Diff") {
        if h.len() != 1 {
            return None;
        }
        let d = diff.as_str()?;
        if d.is_empty() || !d.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        return now.checked_add(d.parse::<i64>().ok()?.checked_mul(60)?);
    }
    let get = |k: &str| -> Option<i64> {
        match h.get(k) {
            None => Some(0),
            Some(Val::Str(s)) if s.is_empty() => None,
            Some(Val::Str(s)) => {
                let n: i64 = s.parse().ok()?;
                if n < 0 {
                    None
                } else {
                    Some(n)
                }
            }
            _ => None,
        }
    };
    let (y, mo, d, hh, mi) = (get("Year")?, get("Month")?, get("Day")?, get("Hour")?, get("Minute")?);
    if !(1..=9999).contains(&y) || !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || hh > 23 || mi > 59 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86400 + hh * 3600 + mi * 60)
}

/// Encode::resolve_alias, for the charsets that matter in practice.
fn charset_known(cs: &str) -> bool {
    let c = cs.to_lowercase();
    let c = c.trim();
    if c.is_empty() {
        return false;
    }
    const KNOWN: &[&str] = &[
        "utf8",
        "utf-8",
        "utf-8-strict",
        "ascii",
        "us-ascii",
        "latin1",
        "latin-1",
        "utf-16",
        "utf-16le",
        "utf-16be",
        "utf-32",
        "utf-32le",
        "utf-32be",
        "ucs-2",
        "koi8-r",
        "koi8-u",
        "cp866",
        "ibm866",
        "cp1250",
        "cp1251",
        "cp1252",
        "cp1253",
        "cp1254",
        "cp1255",
        "cp1256",
        "cp1257",
        "cp1258",
        "gb2312",
        "gbk",
        "big5",
        "shift_jis",
        "sjis",
        "euc-jp",
        "euc-kr",
        "iso-2022-jp",
        "cp932",
        "cp936",
        "cp949",
        "cp950",
        "macroman",
        "maccyrillic",
        "iso-ir-111",
        "tis-620",
        "viscii",
    ];
    if KNOWN.contains(&c) {
        return true;
    }
    if let Some(n) = c.strip_prefix("iso-8859-").or_else(|| c.strip_prefix("iso8859-")).or_else(|| c.strip_prefix("iso_8859-")) {
        return matches!(n.parse::<u32>(), Ok(1..=16)) && n != "12";
    }
    if let Some(n) = c.strip_prefix("windows-") {
        return matches!(n.parse::<u32>(), Ok(874) | Ok(1250..=1258));
    }
    false
}

fn valid_mime_type(m: &str) -> bool {
    let mut parts = m.splitn(2, '/');
    let a = parts.next().unwrap_or("");
    let b = match parts.next() {
        Some(b) => b,
        None => return false,
    };
    let w = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_');
    w(a) && w(b)
}

/// The charset part of a content type as _CheckArticle extracts it.
fn content_type_charset(ct: &str) -> String {
    let lower = ct.to_lowercase();
    let p = match lower.find("charset=") {
        Some(p) => p + 8,
        None => return String::new(),
    };
    let rest = &lower[p..];
    let rest = rest.trim_start_matches(['"', '\'']);
    // the first word characters, then whatever follows up to ';'
    let mut out: String = rest.replace(['"', '\''], "");
    if let Some(i) = out.find(';') {
        out.truncate(i);
    }
    out.trim().to_string()
}

fn content_type_mime(ct: &str) -> String {
    let mut out = String::new();
    let mut slash = false;
    for c in ct.chars() {
        if c.is_alphanumeric() || c == '_' {
            out.push(c);
        } else if c == '/' && !slash && !out.is_empty() {
            slash = true;
            out.push(c);
        } else {
            break;
        }
    }
    if slash && !out.ends_with('/') {
        out
    } else {
        String::new()
    }
}

fn valid_history_type(h: &str) -> bool {
    store::lookup(store::HISTORY_TYPES, h).is_some()
}

fn valid_time_unit(t: &str) -> bool {
    let (a, b) = match t.find(['.', ',']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    !a.is_empty()
        && a.chars().all(|c| c.is_ascii_digit())
        && b.map(|b| !b.is_empty() && b.chars().all(|c| c.is_ascii_digit())).unwrap_or(true)
}

/// An article after defaults and checks, ready to be created.
struct ArticleIn {
    channel: String,
    sender_type: String,
    visible: bool,
    from: Option<String>,
    to: Option<String>,
    subject: String,
    body: String,
    content_type: String,
    charset: String,
    mime_type: String,
    history_type: String,
    history_comment: String,
    time_unit: String,
}

/// Defaults and _CheckArticle of TicketCreate/TicketUpdate (`p` is the
/// operation name used in the messages).
fn check_article(p: &str, a: &Hash, defaults: (&str, &str, &str)) -> Result<ArticleIn, OpResult> {
    let a = trimmed(a);
    let (auto_response, history_type, history_comment) = defaults;
    let miss = format!("{}.MissingParameter", p);
    let inv = format!("{}.InvalidParameter", p);
    let auto = ts(&a, "AutoResponseType").unwrap_or_else(|| auto_response.to_string());
    let mut channel_name = ts(&a, "CommunicationChannel");
    let channel_id = ts(&a, "CommunicationChannelID");
    if channel_name.is_none() && channel_id.is_none() {
        channel_name = Some("Internal".into());
    }
    let visible = match a.get("IsVisibleForCustomer") {
        None | Some(Val::Undef) => true,
        Some(v) => val_true(Some(v)),
    };
    let sender_name = ts(&a, "SenderType");
    let sender_id = ts(&a, "SenderTypeID");
    let (sender_name, sender_id) =
        if sender_name.is_none() && sender_id.is_none() { (Some("agent".to_string()), None) } else { (sender_name, sender_id) };
    let history_type = ts(&a, "HistoryType").unwrap_or_else(|| history_type.to_string());
    let history_comment = ts(&a, "HistoryComment").unwrap_or_else(|| history_comment.to_string());

    for needed in ["Subject", "Body"] {
        if !tv(&a, needed) {
            return Err(err(&miss, &format!("{}: Article->{} parameter is missing!", p, needed)));
        }
    }
    if !store::AUTO_RESPONSE_TYPES.contains(&auto.as_str()) {
        return Err(err(&inv, &format!("{}: Article->AutoResponseType parameter is invalid!", p)));
    }
    // ChannelGet(ChannelID, ChannelName): the ID wins
    let channel = match (&channel_id, &channel_name) {
        (Some(id), _) => store::CHANNELS.iter().find(|(_, i)| i.to_string() == *id).map(|(n, _)| n.to_string()),
        (None, Some(n)) => store::CHANNELS.iter().find(|(x, _)| x == n).map(|(n, _)| n.to_string()),
        _ => None,
    };
    let channel = match channel {
        Some(c) if c == "Email" || c == "Internal" || c == "Phone" => c,
        _ => {
            return Err(err(
                &inv,
                &format!(
                    "{}: Article->CommunicationChannel or Article->CommunicationChannelID parameter is invalid or not supported!",
                    p
                ),
            ))
        }
    };
    let sender = match (&sender_name, &sender_id) {
        (Some(n), None) => store::SENDER_TYPES.iter().find(|(x, _)| x == n).map(|(n, _)| n.to_string()),
        (_, Some(id)) => store::SENDER_TYPES.iter().find(|(_, i)| i.to_string() == *id).map(|(n, _)| n.to_string()),
        _ => None,
    };
    let sender = match sender {
        Some(s) => s,
        None => return Err(err(&inv, &format!("{}: Article->SenderTypeID or Ticket->SenderType parameter is invalid!", p))),
    };
    let from = ts(&a, "From");
    if let Some(f) = &from {
        if !validate_from(f) {
            return Err(err(&inv, &format!("{}: Article->From parameter is invalid!", p)));
        }
    }
    let mut content_type = ts(&a, "ContentType");
    let mut mime = ts(&a, "MimeType");
    let mut charset = ts(&a, "Charset");
    if content_type.is_none() && mime.is_none() && charset.is_none() {
        return Err(err(
            &miss,
            &format!("{}: Article->ContentType or Ticket->MimeType and Article->Charset parameters are required!", p),
        ));
    }
    if mime.is_some() && charset.is_none() {
        return Err(err(&miss, &format!("{}: Article->Charset is required!", p)));
    }
    if charset.is_some() && mime.is_none() {
        return Err(err(&miss, &format!("{}: Article->MimeType is required!", p)));
    }
    if let Some(m) = &mime {
        let m = m.to_lowercase();
        if !valid_mime_type(&m) {
            return Err(err(&inv, &format!("{}: Article->MimeType is invalid!", p)));
        }
        mime = Some(m);
    }
    if let Some(c) = &charset {
        let c = c.to_lowercase();
        if !charset_known(&c) {
            return Err(err(&inv, &format!("{}: Article->Charset is invalid!", p)));
        }
        charset = Some(c);
    }
    if let Some(ct) = &content_type {
        let ct = ct.replace("\r\n", " ").replace(['\r', '\n'], " ").to_lowercase();
        let cs = content_type_charset(&ct);
        if !charset_known(&cs) {
            return Err(err(&inv, &format!("{}: Article->ContentType is invalid!", p)));
        }
        if !valid_mime_type(&content_type_mime(&ct)) {
            return Err(err(&inv, &format!("{}: Article->ContentType is invalid!", p)));
        }
        content_type = Some(ct);
    }
    if !valid_history_type(&history_type) {
        return Err(err(&inv, &format!("{}: Article->HistoryType parameter is invalid!", p)));
    }
    let time_unit = ts(&a, "TimeUnit").unwrap_or_default();
    if !time_unit.is_empty() && !valid_time_unit(&time_unit) {
        return Err(err(&inv, &format!("{}: Article->TimeUnit parameter is invalid!", p)));
    }
    if let Some(n) = ts(&a, "NoAgentNotify") {
        if n != "1" {
            return Err(err(&inv, &format!("{}: Article->NoAgent parameter is invalid!", p)));
        }
    }
    // the article backend derives the missing parts
    let (content_type, charset, mime) = match content_type {
        Some(ct) => {
            let cs = content_type_charset(&ct);
            let m = content_type_mime(&ct);
            (ct, cs, m)
        }
        None => {
            let m = mime.unwrap_or_default();
            let c = charset.unwrap_or_default();
            (format!("{}; charset={}", m, c), c, m)
        }
    };
    Ok(ArticleIn {
        channel,
        sender_type: sender,
        visible,
        from,
        to: ts(&a, "To"),
        subject: sv(&a, "Subject").unwrap_or_default(),
        body: sv(&a, "Body").unwrap_or_default(),
        content_type,
        charset,
        mime_type: mime,
        history_type,
        history_comment,
        time_unit,
    })
}

/// The DynamicField and Attachment checks shared by create and update.
fn check_df_attachments(p: &str, h: &Hash, fields: &[String]) -> Result<(), OpResult> {
    let miss = format!("{}.MissingParameter", p);
    let inv = format!("{}.InvalidParameter", p);
    for opt in ["DynamicField", "Attachment"] {
        if let Some(v) = h.get(opt) {
            let ok = match v {
                Val::Hash(x) => !x.is_empty(),
                Val::Array(x) => !x.is_empty(),
                _ => false,
            };
            if !ok {
                return Err(err(&miss, &format!("{}: {} parameter is missing or not valid!", p, opt)));
            }
        }
    }
    let items = |v: Option<&Val>| -> Vec<Val> {
        match v {
            Some(Val::Array(a)) => a.clone(),
            Some(x) => vec![x.clone()],
            None => vec![],
        }
    };
    for df in items(h.get("DynamicField")) {
        let dfh = match df.as_hash() {
            Some(x) if !x.is_empty() => trimmed(x),
            _ => return Err(err(&inv, &format!("{}: Ticket->DynamicField parameter is invalid!", p))),
        };
        for needed in ["Name", "Value"] {
            if !matches!(dfh.get(needed), Some(Val::Str(_)) | Some(Val::Array(_))) {
                return Err(err(&miss, &format!("{}: DynamicField->{}  parameter is missing!", p, needed)));
            }
        }
        // TicketCreate.pm/TicketUpdate.pm _CheckDynamicField:
        // ValidateDynamicFieldName accepts only a configured, valid field
        if !sv(&dfh, "Name").is_some_and(|n| fields.contains(&n)) {
            return Err(err(&inv, &format!("{}: DynamicField->Name parameter is invalid!", p)));
        }
    }
    for at in items(h.get("Attachment")) {
        let ah = match at.as_hash() {
            Some(x) if !x.is_empty() => trimmed(x),
            _ => return Err(err(&inv, &format!("{}: Ticket->Attachment parameter is invalid!", p))),
        };
        for needed in ["Content", "ContentType", "Filename"] {
            if ts(&ah, needed).is_none() && sv(&ah, needed).map(|s| s.is_empty()).unwrap_or(true) {
                return Err(err(&miss, &format!("{}: Attachment->{}  parameter is missing!", p, needed)));
            }
        }
        let ct = sv(&ah, "ContentType").unwrap_or_default().to_lowercase();
        let cs = content_type_charset(&ct);
        if (!cs.is_empty() && !charset_known(&cs)) || !valid_mime_type(&content_type_mime(&ct)) {
            return Err(err(&inv, &format!("{}: Attachment->ContentType is invalid!", p)));
        }
    }
    Ok(())
}

/// The largest file the recording server could store: MariaDB's
/// max_allowed_packet (64 MiB). 60 MB went in (rest/32b), 70 MB failed after
/// the article was created (rest/32c).
pub const MAX_STORED_FILE: usize = 64 << 20;

/// The files of a TicketCreate or TicketUpdate: the top-level `Attachment`
/// (generic-interface/40, rest/30) and, as Znuny 6.5 also takes it,
/// `Article/Attachment` (rest/30b); one item or a list each. Content is
/// decoded as MIME::Base64's decode_base64 does: other characters are skipped.
fn attachments_in(h: &Hash) -> Vec<store::Attachment> {
    let mut vals = Vec::new();
    let mut push = |v: Option<&Val>| match v {
        Some(Val::Array(a)) => vals.extend(a.iter().cloned()),
        Some(x @ Val::Hash(_)) => vals.push(x.clone()),
        _ => {}
    };
    push(h.get("Attachment"));
    if let Some(Val::Hash(a)) = h.get("Article") {
        push(a.get("Attachment"));
    }
    vals.iter()
        .filter_map(|v| v.as_hash())
        .map(|a| {
            let b64: String = sv(a, "Content")
                .unwrap_or_default()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
                .collect();
            store::Attachment {
                content: crate::rpc::base64_decode(&b64).unwrap_or_default(),
                content_type: sv(a, "ContentType").unwrap_or_default(),
                filename: sv(a, "Filename").unwrap_or_default(),
                disposition: sv(a, "Disposition").filter(|d| !d.is_empty()).unwrap_or_else(|| "attachment".into()),
            }
        })
        .collect()
}

/// The `DynamicField` items of a TicketCreate (checked already): set on the
/// new ticket as TicketCreate.pm's _TicketCreate does with
/// DynamicFieldValueSet for fields of object type Ticket.
fn dynamic_fields_in(h: &Hash) -> Vec<(String, String)> {
    let items = match h.get("DynamicField") {
        Some(Val::Array(a)) => a.clone(),
        Some(x) => vec![x.clone()],
        None => vec![],
    };
    items
        .iter()
        .filter_map(|df| {
            let dfh = trimmed(df.as_hash()?);
            Some((sv(&dfh, "Name")?, sv(&dfh, "Value").unwrap_or_default()))
        })
        .collect()
}

/// `Article/Attachment` is checked like the top-level one.
fn check_article_attachments(p: &str, h: &Hash) -> Result<(), OpResult> {
    if let Some(Val::Hash(a)) = h.get("Article") {
        if let Some(at) = a.get("Attachment") {
            let mut only = Hash::new();
            only.insert("Attachment".into(), at.clone());
            return check_df_attachments(p, &only, &[]);
        }
    }
    Ok(())
}

/// Stores the files with the article the operation just created, as
/// Operation::Ticket::Common::CreateAttachment does after ArticleCreate
/// (Kernel/GenericInterface/Operation/Ticket/TicketUpdate.pm, _TicketUpdate,
/// "set attachments"). A file too big for the database fails AFTER the
/// article exists: the operation then returns a fault (rest/32c), and a
/// client that retries adds a second article.
fn store_attachments(article: &mut Article, files: Vec<store::Attachment>, max_file: usize) -> Result<(), String> {
    for f in files {
        if f.content.len() > max_file {
            return Err("Attachment could not be created, please contact the system administrator".into());
        }
        article.attachments.push(f);
    }
    Ok(())
}

fn attachment_val(a: &store::Attachment, file_id: usize, contents: bool) -> Val {
    let mut m = Hash::new();
    m.insert("Content".into(), s(if contents { crate::rpc::base64(&a.content) } else { String::new() }));
    m.insert("ContentAlternative".into(), s(""));
    m.insert("ContentID".into(), s(""));
    m.insert("ContentType".into(), s(&a.content_type));
    m.insert("Disposition".into(), s(&a.disposition));
    m.insert("FileID".into(), s(file_id));
    m.insert("Filename".into(), s(&a.filename));
    m.insert("FilesizeRaw".into(), s(a.content.len()));
    Val::Hash(m)
}

fn control_ticket_line(t: &Ticket, a: &Article, auth_kind: &str, ctx: &Ctx) -> String {
    store::control_line(
        None,
        &[
            ("ticket_id", t.id.to_string()),
            ("ticket_number", t.tn.clone()),
            ("article_id", a.id.to_string()),
            ("title", t.title.clone()),
            ("queue", t.queue.clone()),
            ("state", t.state.clone()),
            ("priority", t.priority.clone()),
            ("type", t.type_name.clone()),
            ("customer_user", t.customer_user.clone()),
            ("customer_id", t.customer_id.clone()),
            ("communication_channel", a.channel.clone()),
            ("sender_type", a.sender_type.clone()),
            ("is_visible_for_customer", if a.visible { "1" } else { "0" }.to_string()),
            ("subject", a.subject.clone()),
            ("body", a.body.clone()),
            ("content_type", a.content_type.clone()),
            ("from", a.from.clone()),
            ("auth", auth_kind.to_string()),
            ("soapaction", ctx.soapaction.to_string()),
            ("received_at", ctx.now_ms.to_string()),
            ("api", "generic".to_string()),
        ],
    )
}

/// The control line of an article added to a ticket (GenericInterface
/// TicketUpdate, or rpc.pl ArticleCreate with `api` "rpc").
pub(crate) fn control_article_line(
    t: &Ticket,
    a: &Article,
    auth_kind: &str,
    api: &str,
    soapaction: &str,
    received_at_ms: impl std::fmt::Display,
) -> String {
    store::control_line(
        Some("article"),
        &[
            ("ticket_id", t.id.to_string()),
            ("ticket_number", t.tn.clone()),
            ("article_id", a.id.to_string()),
            ("subject", a.subject.clone()),
            ("body", a.body.clone()),
            ("content_type", a.content_type.clone()),
            ("from", a.from.clone()),
            ("communication_channel", a.channel.clone()),
            ("sender_type", a.sender_type.clone()),
            ("is_visible_for_customer", if a.visible { "1" } else { "0" }.to_string()),
            ("time_unit", a.time_unit.clone()),
            ("state", t.state.clone()),
            ("priority", t.priority.clone()),
            ("queue", t.queue.clone()),
            ("title", t.title.clone()),
            ("auth", auth_kind.to_string()),
            ("soapaction", soapaction.to_string()),
            ("received_at", received_at_ms.to_string()),
            ("api", api.to_string()),
        ],
    ) + &attachments_field(a)
}

/// `\tattachments=name:size;...` when the article has files (for tests that
/// look at /control/tickets); the bytes themselves come from TicketGet.
fn attachments_field(a: &Article) -> String {
    if a.attachments.is_empty() {
        return String::new();
    }
    let list: Vec<String> = a.attachments.iter().map(|f| format!("{}:{}", f.filename, f.content.len())).collect();
    format!("\t{}", store::control_line(None, &[("attachments", list.join(";"))]))
}

// ---------------------------------------------------------------------------

fn ticket_create(h: &Hash, ctx: &Ctx) -> OpResult {
    const P: &str = "TicketCreate";
    if ctx.error_mode {
        return err("TicketCreate.InvalidParameter", "TicketCreate: Ticket->QueueID or Ticket->Queue parameter is invalid!");
    }
    if !tv(h, "UserLogin") && !tv(h, "CustomerUserLogin") && !tv(h, "SessionID") {
        return err("TicketCreate.MissingParameter", "TicketCreate: UserLogin, CustomerUserLogin or SessionID is required!");
    }
    if (tv(h, "UserLogin") || tv(h, "CustomerUserLogin")) && !tv(h, "Password") {
        return err("TicketCreate.MissingParameter", "TicketCreate: Password or SessionID is required!");
    }
    let (user_id, auth_kind) = match auth(h, ctx) {
        Some(x) => x,
        None => return err("TicketCreate.AuthFail", "TicketCreate: User could not be authenticated!"),
    };
    for needed in ["Ticket", "Article"] {
        if !val_true(h.get(needed)) || !h.get(needed).map(Val::is_hash_with_data).unwrap_or(false) {
            return err("TicketCreate.MissingParameter", &format!("TicketCreate: {} parameter is missing or not valid!", needed));
        }
    }
    if let Err(e) = check_df_attachments_early(P, h) {
        return e;
    }
    let t = trimmed(h["Ticket"].as_hash().unwrap());

    // _CheckTicket
    for needed in ["Title", "CustomerUser"] {
        if !tv(&t, needed) {
            return err("TicketCreate.MissingParameter", &format!("TicketCreate: Ticket->{} parameter is missing!", needed));
        }
    }
    let cu_in = sv(&t, "CustomerUser").unwrap_or_default();
    if !validate_customer(ctx, &cu_in) {
        return err("TicketCreate.InvalidParameter", "TicketCreate: Ticket->CustomerUser parameter is invalid!");
    }
    if !tv(&t, "QueueID") && !tv(&t, "Queue") {
        return err("TicketCreate.MissingParameter", "TicketCreate: Ticket->QueueID or Ticket->Queue parameter is required!");
    }
    let (queue, queue_id) = match resolve_queue(ctx, &t) {
        Some(q) => q,
        None => {
            return err("TicketCreate.InvalidParameter", "TicketCreate: Ticket->QueueID or Ticket->Queue parameter is invalid!")
        }
    };
    let lock_req = if tv(&t, "LockID") || tv(&t, "Lock") {
        match by_name_or_id(LOCKS, &t, "Lock", "LockID") {
            Some(l) => Some(l),
            None => {
                return err("TicketCreate.InvalidParameter", "TicketCreate: Ticket->LockID or Ticket->Lock parameter is invalid!")
            }
        }
    } else {
        None
    };
    let type_name = if tv(&t, "TypeID") || tv(&t, "Type") {
        match by_name_or_id(store::TYPES, &t, "Type", "TypeID") {
            Some((n, _)) => n,
            None => {
                return err("TicketCreate.InvalidParameter", "TicketCreate: Ticket->TypeID or Ticket->Type parameter is invalid!")
            }
        }
    } else {
        "Unclassified".to_string()
    };
    if tv(&t, "ServiceID") || tv(&t, "Service") {
        return err("TicketCreate.InvalidParameter", "TicketCreate: Ticket->ServiceID or Ticket->Service parameter is invalid!");
    }
    if tv(&t, "SLAID") || tv(&t, "SLA") {
        return err("TicketCreate.InvalidParameter", "TicketCreate: Ticket->SLAID or Ticket->SLA parameter is invalid!");
    }
    if !tv(&t, "StateID") && !tv(&t, "State") {
        return err("TicketCreate.MissingParameter", "TicketCreate: Ticket->StateID or Ticket->State parameter is required!");
    }
    let (state_name, _) = match resolve_state(&t) {
        Some(s) => s,
        None => {
            return err("TicketCreate.InvalidParameter", "TicketCreate: Ticket->StateID or Ticket->State parameter is invalid!")
        }
    };
    if !tv(&t, "PriorityID") && !tv(&t, "Priority") {
        return err(
            "TicketCreate.MissingParameter",
            "TicketCreate: Ticket->PriorityID or Ticket->Priority parameter is required!",
        );
    }
    let (priority, _) = match by_name_or_id(store::PRIORITIES, &t, "Priority", "PriorityID") {
        Some(p) => p,
        None => {
            return err(
                "TicketCreate.InvalidParameter",
                "TicketCreate: Ticket->PriorityID or Ticket->Priority parameter is invalid!",
            )
        }
    };
    let owner = if tv(&t, "OwnerID") || tv(&t, "Owner") {
        match resolve_user(ctx, &t, "Owner", "OwnerID") {
            Some(o) => Some(o),
            None => {
                return err(
                    "TicketCreate.InvalidParameter",
                    "TicketCreate: Ticket->OwnerID or Ticket->Owner parameter is invalid!",
                )
            }
        }
    } else {
        None
    };
    let responsible = if tv(&t, "ResponsibleID") || tv(&t, "Responsible") {
        match resolve_user(ctx, &t, "Responsible", "ResponsibleID") {
            Some(o) => Some(o),
            None => {
                return err(
                    "TicketCreate.InvalidParameter",
                    "TicketCreate: Ticket->ResponsibleID or Ticket->Responsible parameter is invalid!",
                )
            }
        }
    } else {
        None
    };
    let pending = if val_true(t.get("PendingTime")) {
        match pending_time(t.get("PendingTime"), ctx.now) {
            Some(p) => Some(p),
            None => return err("TicketCreate.InvalidParameter", "TicketCreate: Ticket->PendingTime parameter is invalid!"),
        }
    } else {
        None
    };

    let article =
        match check_article(P, h["Article"].as_hash().unwrap(), ("auto reply", "NewTicket", "%%GenericInterface Create")) {
            Ok(a) => a,
            Err(e) => return e,
        };
    if let Err(e) = check_df_attachments(P, h, ctx.dynamic_fields).and_then(|_| check_article_attachments(P, h)) {
        return e;
    }

    // _TicketCreate: customer data
    let mut customer_user = cu_in.clone();
    let mut cdata = customer_by_login(ctx, &cu_in);
    match &cdata {
        Some(c) => customer_user = c.login.clone(),
        None => {
            if let Some(c) = customer_by_email(ctx, &cu_in) {
                customer_user = c.login.clone();
                cdata = Some(c);
            }
        }
    }
    let mut customer_id = cdata.as_ref().map(|c| c.customer_id.clone()).unwrap_or_default();
    if let Some(cid) = sv(&t, "CustomerID").filter(|s| !s.is_empty()) {
        customer_id = cid;
    }
    let from = match (&article.from, &cdata) {
        (Some(f), _) => f.clone(),
        (None, Some(c)) => format!("\"{}\" <{}>", c.full_name(), c.email),
        (None, None) => customer_user.clone(),
    };
    // Kernel/System/Ticket.pm, TicketCreate: substr($Param{Title}, 0, 255)
    // (characters: the SOAP layer hands Perl decoded strings)
    let title: String = sv(&t, "Title").unwrap_or_default().chars().take(255).collect();
    let now = ctx.now;

    let mut st = lock(ctx.store);
    let tn = st.next_ticket_number(now);
    let ticket_id = st.next_ticket_id;
    st.next_ticket_id += 1;
    let article_id = st.next_article_id;
    st.next_article_id += 1;
    let mut ticket = Ticket {
        id: ticket_id,
        tn: tn.clone(),
        title,
        queue: queue.clone(),
        queue_id,
        state: state_name.clone(),
        priority: priority.clone(),
        type_name,
        customer_user: customer_user.clone(),
        customer_id: customer_id.clone(),
        owner_id: 1,
        created: now,
        changed: now,
        unlock_timeout: 0,
        until_time: 0,
        articles: Vec::new(),
        history: Vec::new(),
        lock: "unlock".into(),
        responsible_id: 1,
        time_unit_total: 0.0,
        dynamic_fields: dynamic_fields_in(h),
    };
    ticket.add_history(now, 0, "NewTicket", format!("%%{}%%{}%%{}%%{}%%{}", tn, queue, priority, state_name, ticket_id));
    if !customer_id.is_empty() || !customer_user.is_empty() {
        ticket.add_history(now, 0, "CustomerUpdate", format!("%%CustomerID={};CustomerUser={};", customer_id, customer_user));
    }
    if let Some((l, _)) = &lock_req {
        if *l != ticket.lock {
            ticket.lock = l.clone();
            let ht = if l == "unlock" {
                "Unlock"
            } else if l == "lock" {
                "Lock"
            } else {
                "Misc"
            };
            ticket.add_history(now, 0, ht, format!("%%{}", l));
        }
    }
    let stype = ticket.state_type();
    if stype.starts_with("pending") {
        if let Some(p) = pending {
            ticket.until_time = p;
            ticket.add_history(now, 0, "SetPendingTime", format!("%%{}", &store::timestamp(p)[..16]));
        }
    }
    let a = Article {
        id: article_id,
        ticket_id,
        from,
        to: article.to.clone().unwrap_or_else(|| queue.clone()),
        subject: article.subject.clone(),
        body: article.body.clone(),
        content_type: article.content_type.clone(),
        charset: article.charset.clone(),
        mime_type: article.mime_type.clone(),
        channel: article.channel.clone(),
        sender_type: article.sender_type.clone(),
        visible: article.visible,
        created: now,
        time_unit: article.time_unit.clone(),
        attachments: Vec::new(),
    };
    let mut a = a;
    let file_error = store_attachments(&mut a, attachments_in(h), ctx.max_file).err();
    let hc = if article.history_comment.is_empty() { "%%".to_string() } else { article.history_comment.clone() };
    ticket.add_article(a.clone(), now, &article.history_type, &hc);
    match owner {
        Some(o) => {
            if o != ticket.owner_id {
                ticket.owner_id = o;
                ticket.add_history(now, 0, "OwnerUpdate", format!("%%{}%%{}", user_login(ctx, o), o));
            }
            if lock_req.is_none() && ticket.lock != "lock" {
                ticket.lock = "lock".into();
                ticket.add_history(now, 0, "Lock", "%%lock".into());
                if ticket.unlock_timeout != now {
                    ticket.unlock_timeout = now;
                    ticket.add_history(now, 0, "Misc", "Reset of unlock time.".into());
                }
            }
        }
        None => {
            if user_id != ticket.owner_id {
                ticket.owner_id = user_id;
                ticket.add_history(now, 0, "OwnerUpdate", format!("%%{}%%{}", user_login(ctx, user_id), user_id));
            }
        }
    }
    if let Some(r) = responsible {
        if r != ticket.responsible_id {
            ticket.responsible_id = r;
            ticket.add_history(now, 0, "ResponsibleUpdate", format!("%%{}%%{}", user_login(ctx, r), r));
        }
    }
    if !article.time_unit.is_empty() {
        let tu: f64 = article.time_unit.replace(',', ".").parse().unwrap_or(0.0);
        ticket.time_unit_total += tu;
        ticket.add_history(
            now,
            article_id,
            "TimeAccounting",
            format!("%%{}%%{}", article.time_unit, fmt_units(ticket.time_unit_total)),
        );
    }
    let line = control_ticket_line(&ticket, &a, auth_kind, ctx);
    st.lines.push(line.clone());
    st.tickets.push(ticket);
    drop(st);
    if let Some(e) = file_error {
        // the ticket and its article stay, as in Znuny (TicketCreate.pm creates the files last)
        return OpResult { outcome: Outcome::Fault(e), ticket_lines: vec![line] };
    }

    let mut r = Hash::new();
    r.insert("ArticleID".into(), Val::s(article_id.to_string()));
    r.insert("TicketID".into(), Val::s(ticket_id.to_string()));
    r.insert("TicketNumber".into(), Val::s(tn));
    OpResult { outcome: Outcome::Data(r), ticket_lines: vec![line] }
}

fn fmt_units(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{}", v as i64)
    } else {
        format!("{}", v)
    }
}

/// The early "parameter is missing or not valid" part of the DynamicField
/// and Attachment checks (before the ticket checks).
fn check_df_attachments_early(p: &str, h: &Hash) -> Result<(), OpResult> {
    for opt in ["DynamicField", "Attachment"] {
        if let Some(v) = h.get(opt) {
            let ok = match v {
                Val::Hash(x) => !x.is_empty(),
                Val::Array(x) => !x.is_empty(),
                _ => false,
            };
            if !ok {
                return Err(err(
                    &format!("{}.MissingParameter", p),
                    &format!("{}: {} parameter is missing or not valid!", p, opt),
                ));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------

fn s(v: impl ToString) -> Val {
    Val::Str(v.to_string())
}

/// `files`: None without `Attachments`; Some(with contents) with it
/// (GetAttachmentContents=0 leaves Content empty, rest/31b). Articles
/// without files have no Attachment key (rest/31).
fn article_val(t: &Ticket, a: &Article, number: usize, files: Option<bool>) -> Val {
    let mut m = Hash::new();
    m.insert("ArticleID".into(), s(a.id));
    m.insert("ArticleNumber".into(), s(number));
    if let Some(contents) = files.filter(|_| !a.attachments.is_empty()) {
        let list = a.attachments.iter().enumerate().map(|(i, f)| attachment_val(f, i + 1, contents)).collect();
        m.insert("Attachment".into(), Val::Array(list));
    }
    m.insert("Bcc".into(), s(""));
    m.insert("Body".into(), s(&a.body));
    m.insert("Cc".into(), s(""));
    m.insert("ChangeBy".into(), s(AGENT_USER_ID));
    m.insert("ChangeTime".into(), s(store::timestamp(a.created)));
    m.insert("Charset".into(), s(&a.charset));
    m.insert("CommunicationChannel".into(), s(&a.channel));
    m.insert("CommunicationChannelID".into(), s(store::lookup(store::CHANNELS, &a.channel).unwrap_or(3)));
    m.insert("ContentCharset".into(), s(&a.charset));
    m.insert("ContentType".into(), s(&a.content_type));
    m.insert("CreateBy".into(), s(AGENT_USER_ID));
    m.insert("CreateTime".into(), s(store::timestamp(a.created)));
    m.insert("From".into(), s(&a.from));
    m.insert("InReplyTo".into(), s(""));
    m.insert("IncomingTime".into(), s(a.created));
    m.insert("IsVisibleForCustomer".into(), s(if a.visible { 1 } else { 0 }));
    m.insert("MessageID".into(), s(""));
    m.insert("MimeType".into(), s(&a.mime_type));
    m.insert("References".into(), s(""));
    m.insert("ReplyTo".into(), s(""));
    m.insert("SenderType".into(), s(&a.sender_type));
    m.insert("SenderTypeID".into(), s(store::lookup(store::SENDER_TYPES, &a.sender_type).unwrap_or(1)));
    m.insert("Subject".into(), s(&a.subject));
    m.insert("TicketID".into(), s(t.id));
    let tu: f64 = a.time_unit.replace(',', ".").parse().unwrap_or(0.0);
    m.insert("TimeUnit".into(), s(fmt_units(tu)));
    m.insert("To".into(), s(&a.to));
    Val::Hash(m)
}

fn ticket_val(t: &Ticket, now: i64, ctx: &Ctx, articles: bool) -> Val {
    let mut m = Hash::new();
    m.insert("Age".into(), s(now - t.created));
    m.insert("ArchiveFlag".into(), s("n"));
    if articles && !t.articles.is_empty() {
        let list = t.articles.iter().enumerate().map(|(i, a)| article_val(t, a, i + 1, None)).collect();
        m.insert("Article".into(), Val::Array(list));
    }
    m.insert("ChangeBy".into(), s(AGENT_USER_ID));
    m.insert("Changed".into(), s(store::timestamp(t.changed)));
    m.insert("CreateBy".into(), s(AGENT_USER_ID));
    m.insert("Created".into(), s(store::timestamp(t.created)));
    m.insert("CustomerID".into(), s(&t.customer_id));
    m.insert("CustomerUserID".into(), s(&t.customer_user));
    m.insert("EscalationResponseTime".into(), s(0));
    m.insert("EscalationSolutionTime".into(), s(0));
    m.insert("EscalationTime".into(), s(0));
    m.insert("EscalationUpdateTime".into(), s(0));
    m.insert("GroupID".into(), s(1));
    m.insert("Lock".into(), s(&t.lock));
    m.insert("LockID".into(), s(store::lookup(LOCKS, &t.lock).unwrap_or(1)));
    m.insert("Owner".into(), s(user_login(ctx, t.owner_id)));
    m.insert("OwnerID".into(), s(t.owner_id));
    m.insert("Priority".into(), s(&t.priority));
    m.insert("PriorityID".into(), s(t.priority_id()));
    m.insert("Queue".into(), s(&t.queue));
    m.insert("QueueID".into(), s(t.queue_id));
    let pending = t.state_type().starts_with("pending") && t.until_time > 0;
    m.insert("RealTillTimeNotUsed".into(), s(if pending { t.until_time } else { 0 }));
    m.insert("Responsible".into(), s(user_login(ctx, t.responsible_id)));
    m.insert("ResponsibleID".into(), s(t.responsible_id));
    m.insert("SLAID".into(), Val::Undef);
    m.insert("ServiceID".into(), Val::Undef);
    m.insert("State".into(), s(&t.state));
    m.insert("StateID".into(), s(t.state_id()));
    m.insert("StateType".into(), s(t.state_type()));
    m.insert("TicketID".into(), s(t.id));
    m.insert("TicketNumber".into(), s(&t.tn));
    m.insert("TimeUnit".into(), s(fmt_units(t.time_unit_total)));
    m.insert("Title".into(), s(&t.title));
    m.insert("Type".into(), s(&t.type_name));
    m.insert("TypeID".into(), s(t.type_id()));
    m.insert("UnlockTimeout".into(), s(t.unlock_timeout));
    m.insert("UntilTime".into(), s(if pending { (t.until_time - now).max(0) } else { 0 }));
    Val::Hash(m)
}

/// TicketID as a list (a string with commas, or repeated elements).
fn id_list(v: Option<&Val>, split_ws: bool) -> Option<Vec<String>> {
    match v {
        Some(Val::Str(x)) if !x.is_empty() => Some(if split_ws {
            x.split(',').map(|p| p.trim().to_string()).collect()
        } else {
            x.split(',').map(str::to_string).collect()
        }),
        Some(Val::Array(a)) if !a.is_empty() => Some(a.iter().map(|x| x.as_str().unwrap_or("").to_string()).collect()),
        _ => None,
    }
}

fn ticket_get(h: &Hash, ctx: &Ctx) -> OpResult {
    if auth(h, ctx).is_none() {
        return err("TicketGet.AuthFail", "TicketGet: Authorization failing!");
    }
    if !tv(h, "TicketID") {
        return err("TicketGet.MissingParameter", "TicketGet: TicketID parameter is missing!");
    }
    let ids = match id_list(h.get("TicketID"), true) {
        Some(x) => x,
        None => return err("TicketGet.WrongStructure", "TicketGet: Structure for TicketID is not correct!"),
    };
    let valid = |x: &str| !x.is_empty() && !x.starts_with('0') && x.chars().all(|c| c.is_ascii_digit());
    if !ids.iter().all(|x| valid(x)) {
        return err("TicketGet.WrongStructure", "TicketGet: Invalid ticket ID parameter(s) found!");
    }
    let st = lock(ctx.store);
    let mut items = Vec::new();
    for id in &ids {
        if st.ticket(id.parse().unwrap_or(0)).is_none() {
            return err("TicketGet.AccessDenied", "TicketGet: User does not have access to the ticket!");
        }
    }
    let all = tv(h, "AllArticles");
    // files only with both AllArticles and Attachments (rest/31)
    let files = tv(h, "Attachments").then(|| sv(h, "GetAttachmentContents").map(|v| v.trim() != "0").unwrap_or(true));
    let limit: usize = ts(h, "ArticleLimit").and_then(|x| x.parse().ok()).unwrap_or(0);
    let desc = sv(h, "ArticleOrder").as_deref() == Some("DESC");
    let sender_filter: Vec<String> = match h.get("ArticleSenderType") {
        Some(Val::Str(x)) if !x.is_empty() => vec![x.clone()],
        Some(Val::Array(a)) => a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
        _ => vec![],
    };
    for id in &ids {
        let t = st.ticket(id.parse().unwrap_or(0)).unwrap();
        let mut tv_ = ticket_val(t, ctx.now, ctx, false);
        if all {
            let mut list: Vec<(usize, &Article)> = if sender_filter.is_empty() {
                t.articles.iter().enumerate().collect()
            } else {
                let mut l = Vec::new();
                for sname in &sender_filter {
                    l.extend(t.articles.iter().enumerate().filter(|(_, a)| &a.sender_type == sname));
                }
                l
            };
            if limit > 0 {
                if desc {
                    list.reverse();
                }
                list.truncate(limit);
            }
            if !list.is_empty() {
                let arts = list.iter().map(|(i, a)| article_val(t, a, i + 1, files)).collect();
                if let Val::Hash(m) = &mut tv_ {
                    m.insert("Article".into(), Val::Array(arts));
                }
            }
        }
        items.push(tv_);
    }
    let mut r = Hash::new();
    r.insert("Ticket".into(), Val::Array(items));
    data(r)
}

fn ticket_history_get(h: &Hash, ctx: &Ctx) -> OpResult {
    if auth(h, ctx).is_none() {
        return err("TicketHistoryGet.AuthFail", "TicketHistoryGet: Authorization failing!");
    }
    if !tv(h, "TicketID") {
        return err("TicketHistoryGet.MissingParameter", "TicketHistoryGet: TicketID parameter is missing!");
    }
    let ids = match id_list(h.get("TicketID"), false) {
        Some(x) => x,
        None => return err("TicketHistoryGet.WrongStructure", "TicketHistoryGet: Structure for TicketID is not correct!"),
    };
    let st = lock(ctx.store);
    for id in &ids {
        let ok = id.chars().all(|c| c.is_ascii_digit()) && st.ticket(id.parse().unwrap_or(0)).is_some();
        if !ok {
            return err(
                "TicketHistoryGet.AccessDenied",
                &format!("TicketHistoryGet: User does not have access to the ticket {}!", id),
            );
        }
    }
    let mut out = Vec::new();
    for id in &ids {
        let t = st.ticket(id.parse().unwrap_or(0)).unwrap();
        let lines: Vec<Val> = t
            .history
            .iter()
            .map(|x| {
                let mut m = Hash::new();
                m.insert("ArticleID".into(), s(x.article_id));
                m.insert("CreateBy".into(), s(AGENT_USER_ID));
                m.insert("CreateTime".into(), s(store::timestamp(x.create_time)));
                m.insert("HistoryType".into(), s(&x.history_type));
                m.insert("HistoryTypeID".into(), s(store::history_type_id(&x.history_type)));
                m.insert("Name".into(), s(&x.name));
                m.insert("OwnerID".into(), s(x.owner_id));
                m.insert("PriorityID".into(), s(x.priority_id));
                m.insert("QueueID".into(), s(x.queue_id));
                m.insert("StateID".into(), s(x.state_id));
                m.insert("TicketID".into(), s(t.id));
                m.insert("TypeID".into(), s(x.type_id));
                Val::Hash(m)
            })
            .collect();
        let mut e = Hash::new();
        e.insert("History".into(), Val::Array(lines));
        e.insert("TicketID".into(), s(id));
        out.push(Val::Hash(e));
    }
    let mut r = Hash::new();
    r.insert("TicketHistory".into(), Val::Array(out));
    data(r)
}

// ---------------------------------------------------------------------------

/// An array parameter: a string or a list of strings.
fn arr(h: &Hash, k: &str) -> Option<Vec<String>> {
    let v: Vec<String> = match h.get(k) {
        Some(Val::Str(x)) if !x.is_empty() => vec![x.clone()],
        Some(Val::Array(a)) if !a.is_empty() => a.iter().map(|x| x.as_str().unwrap_or("").to_string()).collect(),
        _ => return None,
    };
    Some(v)
}

fn ticket_search(h: &Hash, ctx: &Ctx) -> OpResult {
    if auth(h, ctx).is_none() {
        return err("TicketSearch.AuthFail", "TicketSearch: Authorization failing!");
    }
    let ids = search_ids(h, ctx).unwrap_or_default();
    let mut r = Hash::new();
    if !ids.is_empty() {
        r.insert("TicketID".into(), Val::Array(ids.into_iter().map(s).collect()));
    }
    data(r)
}

/// Kernel::System::Ticket::TicketSearch over the in-memory tickets; None
/// where Znuny's search returns nothing because a parameter cannot be
/// resolved.
fn search_ids(h: &Hash, ctx: &Ctx) -> Option<Vec<u64>> {
    let str_param = |k: &str| sv(h, k).map(|x| x.trim().to_string()).filter(|x| !x.is_empty());
    let limit: usize = ts(h, "Limit").and_then(|x| x.parse().ok()).filter(|x| *x > 0).unwrap_or(500);
    let first = |k: &str, d: &str| -> String {
        match h.get(k) {
            Some(Val::Str(x)) if perl_true(x) => x.clone(),
            Some(Val::Array(a)) => a.first().and_then(|x| x.as_str()).unwrap_or(d).to_string(),
            _ => d.to_string(),
        }
    };
    let sort_by = first("SortBy", "Age");
    let order_by = first("OrderBy", "Down");
    let sort_ok = [
        "Owner",
        "Responsible",
        "CustomerID",
        "State",
        "Lock",
        "Ticket",
        "TicketNumber",
        "Title",
        "Queue",
        "Type",
        "Priority",
        "Age",
        "Created",
        "Changed",
        "Service",
        "SLA",
        "PendingTime",
        "TicketEscalation",
        "EscalationTime",
        "EscalationUpdateTime",
        "EscalationResponseTime",
        "EscalationSolutionTime",
    ];
    if !sort_ok.contains(&sort_by.as_str()) || (order_by != "Down" && order_by != "Up") {
        return None;
    }

    let int_list = |k: &str| -> Option<Option<Vec<u32>>> {
        match arr(h, k) {
            None => Some(None),
            Some(v) => {
                let mut out = Vec::new();
                for x in v {
                    out.push(x.trim().parse::<u32>().ok()?);
                }
                Some(Some(out))
            }
        }
    };
    let mut state_ids = int_list("StateIDs")?;
    if let Some(names) = arr(h, "States") {
        let l = state_ids.get_or_insert_with(Vec::new);
        for n in names {
            l.push(store::state(&n)?.0);
        }
    }
    let mut queue_ids = int_list("QueueIDs")?;
    if let Some(names) = arr(h, "Queues") {
        let l = queue_ids.get_or_insert_with(Vec::new);
        for n in names {
            l.push(queue_by_name(ctx, &n)?.1);
        }
    }
    let mut prio_ids = int_list("PriorityIDs")?;
    if let Some(names) = arr(h, "Priorities") {
        let l = prio_ids.get_or_insert_with(Vec::new);
        for n in names {
            l.push(store::lookup(store::PRIORITIES, &n)?);
        }
    }
    let mut type_ids = int_list("TypeIDs")?;
    if let Some(names) = arr(h, "Types") {
        let l = type_ids.get_or_insert_with(Vec::new);
        for n in names {
            l.push(store::lookup(store::TYPES, &n)?);
        }
    }
    let mut lock_ids = int_list("LockIDs")?;
    if let Some(names) = arr(h, "Locks") {
        let l = lock_ids.get_or_insert_with(Vec::new);
        for n in names {
            l.push(store::lookup(LOCKS, &n)?);
        }
    }
    let owner_ids = int_list("OwnerIDs")?;
    let resp_ids = int_list("ResponsibleIDs")?;
    let ticket_ids = int_list("TicketID")?;
    // StateType: the state type names are compared by MariaDB, which ignores
    // case, so "Open" finds the "open" type
    let mut type_state_ids: Option<Vec<u32>> = None;
    if let Some(types) = arr(h, "StateType") {
        let l: Vec<u32> =
            store::STATES.iter().filter(|(_, _, t)| types.iter().any(|x| x.to_lowercase() == *t)).map(|(_, i, _)| *i).collect();
        if l.is_empty() {
            return None;
        }
        type_state_ids = Some(l);
    }
    if let Some(tids) = int_list("StateTypeIDs")? {
        let names = ["new", "open", "closed", "pending reminder", "pending auto", "removed", "merged"];
        let wanted: Vec<&str> = tids.iter().filter_map(|i| names.get((*i as usize).wrapping_sub(1)).copied()).collect();
        let l: Vec<u32> = store::STATES.iter().filter(|(_, _, t)| wanted.contains(t)).map(|(_, i, _)| *i).collect();
        if l.is_empty() {
            return None;
        }
        type_state_ids = Some(match type_state_ids {
            Some(prev) => prev.into_iter().filter(|x| l.contains(x)).collect(),
            None => l,
        });
    }

    // TicketNumber, Title, CustomerID, CustomerUserLogin: QueryCondition
    let conds = |k: &str| -> Option<Vec<store::QueryCondition>> {
        let vals = arr(h, k)?;
        let mut out = Vec::new();
        for v in vals {
            if v.is_empty() {
                continue;
            }
            let v = v.replace('*', "%");
            if !v.is_empty() && v.len() <= 3 && v.chars().all(|c| c == '%') {
                continue;
            }
            out.push(store::QueryCondition::new(&v, "", ""));
        }
        if out.is_empty() {
            None
        } else {
            Some(out)
        }
    };
    let tn_c = conds("TicketNumber");
    let title_c = conds("Title");
    let cid_c = conds("CustomerID");
    let cu_c = conds("CustomerUserLogin");
    // The GenericInterface operation hands Kernel::System::Ticket only the
    // parameters its _GetParams lists (Kernel/GenericInterface/Operation/
    // Ticket/TicketSearch.pm): CustomerID and CustomerUserLogin, never their
    // Raw forms, which it drops without a word.
    let cid_raw: Option<Vec<String>> = None;
    let cu_raw: Option<Vec<String>> = None;

    // article search index fields
    let content_search = match str_param("ContentSearch") {
        Some(x) => x,
        None => {
            if str_param("Fulltext").is_some() {
                "OR".into()
            } else {
                "AND".into()
            }
        }
    };
    let content_search = if str_param("Fulltext").is_some() { "OR".to_string() } else { content_search };
    let fields = [
        "MIMEBase_From",
        "MIMEBase_To",
        "MIMEBase_Cc",
        "MIMEBase_Bcc",
        "MIMEBase_Subject",
        "MIMEBase_Body",
        "MIMEBase_AttachmentName",
    ];
    let mut art_conds: Vec<(String, String)> = Vec::new();
    let mut article_join = false;
    for f in fields.iter().chain(["Fulltext"].iter()) {
        if let Some(v) = str_param(f) {
            article_join = true;
            let v = v.replace('*', "%");
            if v.len() <= 3 && v.chars().all(|c| c == '%') {
                continue;
            }
            let mut p = format!("%{}%", v);
            while p.contains("%%") {
                p = p.replace("%%", "%");
            }
            art_conds.push((f.to_string(), p.to_lowercase()));
        }
    }
    if content_search != "AND" && content_search != "OR" && art_conds.len() > 1 {
        // the SQL would be broken
        return None;
    }

    // TicketCreateTime{Newer,Older}Minutes: st.create_time against now minus
    // so many minutes (Kernel::System::Ticket::TicketSearch; a value that is
    // not a number counts as 0, as its `||= 0` does).
    let minutes_ago = |k: &str| -> Option<i64> {
        h.get(k).map(|v| ctx.now - 60 * v.as_str().and_then(|x| x.trim().parse::<i64>().ok()).unwrap_or(0))
    };
    let (created_after, created_before) =
        (minutes_ago("TicketCreateTimeNewerMinutes"), minutes_ago("TicketCreateTimeOlderMinutes"));

    // Ticket dynamic fields, as the GenericInterface hands them on
    // (_GetDynamicFields in Kernel/GenericInterface/Operation/Ticket/
    // TicketSearch.pm): `DynamicField` {Name, Operator => value} (hash or
    // list), else the older `DynamicField_<Name>` {Operator => value}; only
    // fields that exist are kept, a criterion on another one is dropped.
    // Operators Equals and Like (`*` a wildcard), as SearchSQLGet of a text
    // field in Kernel/System/Ticket/TicketSearch.pm.
    let mut df_raw: Vec<(String, Hash)> = Vec::new();
    match h.get("DynamicField") {
        Some(Val::Hash(x)) => df_raw.extend(sv(x, "Name").map(|n| (n, x.clone()))),
        Some(Val::Array(a)) => {
            df_raw.extend(a.iter().filter_map(|v| v.as_hash()).filter_map(|x| sv(x, "Name").map(|n| (n, x.clone()))))
        }
        Some(_) => {}
        None => {
            for (k, v) in h.iter() {
                if let (Some(name), Some(x)) = (k.strip_prefix("DynamicField_"), v.as_hash()) {
                    if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric()) {
                        df_raw.push((name.to_string(), x.clone()));
                    }
                }
            }
        }
    }
    let df_conds: Vec<(String, String, String)> = df_raw
        .into_iter()
        .filter(|(name, _)| ctx.dynamic_fields.contains(name))
        .flat_map(|(name, ops)| {
            ["Equals", "Like"]
                .into_iter()
                .filter_map(|op| sv(&ops, op).filter(|v| !v.is_empty()).map(|v| (name.clone(), op.to_string(), v)))
                .collect::<Vec<_>>()
        })
        .collect();

    let st = lock(ctx.store);
    let mut found: Vec<&Ticket> = Vec::new();
    for t in &st.tickets {
        let inlist = |l: &Option<Vec<u32>>, v: u32| l.as_ref().map(|l| l.contains(&v)).unwrap_or(true);
        if !inlist(&ticket_ids, t.id as u32)
            || !inlist(&state_ids, t.state_id())
            || !inlist(&type_state_ids, t.state_id())
            || !inlist(&queue_ids, t.queue_id)
            || !inlist(&prio_ids, t.priority_id())
            || !inlist(&type_ids, t.type_id())
            || !inlist(&lock_ids, store::lookup(LOCKS, &t.lock).unwrap_or(1))
            || !inlist(&owner_ids, t.owner_id)
            || !inlist(&resp_ids, t.responsible_id)
        {
            continue;
        }
        if created_after.is_some_and(|b| t.created < b) || created_before.is_some_and(|b| t.created > b) {
            continue;
        }
        let df_ok = df_conds.iter().all(|(name, op, want)| {
            t.dynamic_fields.iter().any(|(n, v)| {
                n == name
                    && match op.as_str() {
                        "Equals" => v == want,
                        _ => store::QueryCondition::new(&want.replace('*', "%"), "", "").matches(v),
                    }
            })
        });
        if !df_ok {
            continue;
        }
        let any =
            |c: &Option<Vec<store::QueryCondition>>, v: &str| c.as_ref().map(|c| c.iter().any(|q| q.matches(v))).unwrap_or(true);
        if !any(&tn_c, &t.tn) || !any(&title_c, &t.title) {
            continue;
        }
        if let Some(raw) = &cid_raw {
            if !raw.contains(&t.customer_id) {
                continue;
            }
        } else if !any(&cid_c, &t.customer_id) {
            continue;
        }
        if let Some(raw) = &cu_raw {
            if !raw.iter().any(|x| x.to_lowercase() == t.customer_user.to_lowercase()) {
                continue;
            }
        } else if !any(&cu_c, &t.customer_user) {
            continue;
        }
        if article_join {
            if t.articles.is_empty() {
                continue;
            }
            if !art_conds.is_empty() {
                let ok = t.articles.iter().any(|a| {
                    let index = |f: &str| -> Vec<String> {
                        match f {
                            "MIMEBase_From" => vec![store::search_index_plain(&a.from)],
                            "MIMEBase_To" => vec![store::search_index_plain(&a.to)],
                            "MIMEBase_Cc" | "MIMEBase_Bcc" | "MIMEBase_AttachmentName" => vec![String::new()],
                            "MIMEBase_Subject" => vec![store::search_index_filtered(&a.subject)],
                            "MIMEBase_Body" => vec![store::search_index_filtered(&a.body)],
                            _ => vec![
                                store::search_index_plain(&a.from),
                                store::search_index_plain(&a.to),
                                String::new(),
                                String::new(),
                                store::search_index_filtered(&a.subject),
                                store::search_index_filtered(&a.body),
                            ],
                        }
                    };
                    let mut results = art_conds.iter().map(|(f, p)| {
                        let m = index(f).iter().any(|v| store::like(p, v));
                        m || (f == "Fulltext" && store::like(p, &t.title.to_lowercase()))
                    });
                    if content_search == "OR" {
                        results.any(|x| x)
                    } else {
                        results.all(|x| x)
                    }
                });
                if !ok {
                    continue;
                }
            }
        }
        found.push(t);
    }
    let key = |t: &Ticket| -> (String, i64) {
        match sort_by.as_str() {
            "Ticket" | "TicketNumber" => (t.tn.clone(), 0),
            "Title" => (t.title.to_lowercase(), 0),
            "Queue" => (t.queue.to_lowercase(), 0),
            "CustomerID" => (t.customer_id.to_lowercase(), 0),
            "State" => (String::new(), t.state_id() as i64),
            "Priority" => (String::new(), t.priority_id() as i64),
            "Type" => (String::new(), t.type_id() as i64),
            "Owner" => (String::new(), t.owner_id as i64),
            "Responsible" => (String::new(), t.responsible_id as i64),
            "Lock" => (String::new(), store::lookup(LOCKS, &t.lock).unwrap_or(1) as i64),
            "Changed" => (String::new(), t.changed),
            "PendingTime" => (String::new(), t.until_time),
            "Service"
            | "SLA"
            | "TicketEscalation"
            | "EscalationTime"
            | "EscalationUpdateTime"
            | "EscalationResponseTime"
            | "EscalationSolutionTime" => (String::new(), 0),
            _ => (String::new(), t.created),
        }
    };
    found.sort_by(|a, b| {
        let o = key(a).cmp(&key(b)).then(a.id.cmp(&b.id));
        if order_by == "Down" {
            o.reverse()
        } else {
            o
        }
    });
    Some(found.into_iter().take(limit).map(|t| t.id).collect())
}

// ---------------------------------------------------------------------------

fn ticket_update(d: &Val, h: &Hash, ctx: &Ctx) -> OpResult {
    const P: &str = "TicketUpdate";
    if !d.is_hash_with_data() {
        return err("TicketUpdate.EmptyRequest", "TicketUpdate: The request data is invalid!");
    }
    if !tv(h, "TicketID") && !tv(h, "TicketNumber") {
        return err("TicketUpdate.MissingParameter", "TicketUpdate: TicketID or TicketNumber is required!");
    }
    if !tv(h, "UserLogin") && !tv(h, "CustomerUserLogin") && !tv(h, "SessionID") {
        return err("TicketUpdate.MissingParameter", "TicketUpdate: UserLogin, CustomerUserLogin or SessionID is required!");
    }
    if (tv(h, "UserLogin") || tv(h, "CustomerUserLogin")) && !tv(h, "Password") {
        return err("TicketUpdate.MissingParameter", "TicketUpdate: Password or SessionID is required!");
    }
    let (user_id, auth_kind) = match auth(h, ctx) {
        Some(x) => x,
        None => return err("TicketUpdate.AuthFail", "TicketUpdate: User could not be authenticated!"),
    };
    let denied = || err("TicketUpdate.AccessDenied", "TicketUpdate: User does not have access to the ticket!");
    let ticket_id: u64 = {
        let st = lock(ctx.store);
        let found = if let Some(tn) = ts(h, "TicketNumber") {
            st.tickets.iter().find(|t| t.tn == tn).map(|t| t.id)
        } else {
            let id = sv(h, "TicketID").unwrap_or_default();
            id.trim().parse::<u64>().ok().filter(|i| st.ticket(*i).is_some())
        };
        match found {
            Some(i) => i,
            None => return denied(),
        }
    };
    let t_in: Option<Hash> = match h.get("Ticket") {
        None => None,
        Some(v) => match v.as_hash() {
            Some(x) if !x.is_empty() => Some(trimmed(x)),
            _ => return err("TicketUpdate.InvalidParameter", "TicketUpdate: Ticket parameter is not valid!"),
        },
    };
    if let Err(e) = check_df_attachments_early(P, h) {
        return e;
    }
    let empty = Hash::new();
    let t = t_in.as_ref().unwrap_or(&empty);

    // _CheckTicket (update)
    let inv = |m: &str| err("TicketUpdate.InvalidParameter", &format!("TicketUpdate: {}", m));
    let new_cu = ts(t, "CustomerUser");
    if let Some(cu) = &new_cu {
        if !validate_customer(ctx, cu) {
            return inv("Ticket->CustomerUser parameter is invalid!");
        }
    }
    let new_queue = if tv(t, "QueueID") || tv(t, "Queue") {
        match resolve_queue(ctx, t) {
            Some(q) => Some(q),
            None => return inv("Ticket->QueueID or Ticket->Queue parameter is invalid!"),
        }
    } else {
        None
    };
    let new_lock = if tv(t, "LockID") || tv(t, "Lock") {
        match by_name_or_id(LOCKS, t, "Lock", "LockID") {
            Some(l) => Some(l.0),
            None => return inv("Ticket->LockID or Ticket->Lock parameter is invalid!"),
        }
    } else {
        None
    };
    let new_type = if tv(t, "TypeID") || tv(t, "Type") {
        match by_name_or_id(store::TYPES, t, "Type", "TypeID") {
            Some(x) => Some(x.0),
            None => return inv("Ticket->TypeID or Ticket->Type parameter is invalid!"),
        }
    } else {
        None
    };
    if tv(t, "ServiceID") || tv(t, "Service") {
        return inv("Ticket->ServiceID or Ticket->Service parameter is invalid!");
    }
    if tv(t, "SLAID") || tv(t, "SLA") {
        return inv("Ticket->SLAID or Ticket->SLA parameter is invalid!");
    }
    let new_state = if tv(t, "StateID") || tv(t, "State") {
        match resolve_state(t) {
            Some(x) => Some(x.0),
            None => return inv("Ticket->StateID or Ticket->State parameter is invalid!"),
        }
    } else {
        None
    };
    let new_prio = if tv(t, "PriorityID") || tv(t, "Priority") {
        match by_name_or_id(store::PRIORITIES, t, "Priority", "PriorityID") {
            Some(x) => Some(x.0),
            None => return inv("Ticket->PriorityID or Ticket->Priority parameter is invalid!"),
        }
    } else {
        None
    };
    let new_owner = if tv(t, "OwnerID") || tv(t, "Owner") {
        match resolve_user(ctx, t, "Owner", "OwnerID") {
            Some(x) => Some(x),
            None => return inv("Ticket->OwnerID or Ticket->Owner parameter is invalid!"),
        }
    } else {
        None
    };
    let new_resp = if tv(t, "ResponsibleID") || tv(t, "Responsible") {
        match resolve_user(ctx, t, "Responsible", "ResponsibleID") {
            Some(x) => Some(x),
            None => return inv("Ticket->ResponsibleID or Ticket->Responsible parameter is invalid!"),
        }
    } else {
        None
    };
    let pending = if val_true(t.get("PendingTime")) {
        match pending_time(t.get("PendingTime"), ctx.now) {
            Some(p) => Some(p),
            None => return inv("Ticket->PendingTime parameter is invalid!"),
        }
    } else {
        None
    };

    let articles_in: Vec<Hash> = match h.get("Article") {
        None | Some(Val::Undef) => vec![],
        Some(Val::Hash(a)) if !a.is_empty() => vec![a.clone()],
        Some(Val::Array(l)) if !l.is_empty() && l.iter().all(Val::is_hash_with_data) => {
            l.iter().map(|x| x.as_hash().unwrap().clone()).collect()
        }
        Some(_) => return err("TicketUpdate.InvalidParameter", "TicketUpdate: Article parameter is not valid!"),
    };
    let mut articles = Vec::new();
    for a in &articles_in {
        match check_article(P, a, ("auto follow up", "AddNote", "%%GenericInterface Note")) {
            Ok(x) => articles.push(x),
            Err(e) => return e,
        }
    }
    if let Err(e) = check_df_attachments(P, h, ctx.dynamic_fields).and_then(|_| check_article_attachments(P, h)) {
        return e;
    }
    let mut files = Some(attachments_in(h));
    let mut file_error = None;

    let cdata = new_cu.as_ref().and_then(|cu| customer_by_login(ctx, cu));
    let now = ctx.now;
    let mut st = lock(ctx.store);
    let mut article_ids = Vec::new();
    let mut new_article_ids = Vec::new();
    for _ in &articles {
        new_article_ids.push(st.next_article_id);
        st.next_article_id += 1;
    }
    let agent_name = ctx.agent_name.to_string();
    let ticket = match st.ticket_mut(ticket_id) {
        Some(x) => x,
        None => return denied(),
    };
    let mut changed = false;
    if let Some(title) = sv(t, "Title").filter(|x| !x.is_empty() && *x != ticket.title) {
        let mut short: String = title.chars().take(50).collect();
        if short.chars().count() == 50 {
            short.push_str("...");
        }
        let old = std::mem::replace(&mut ticket.title, title);
        ticket.add_history(now, 0, "TitleUpdate", format!("%%{}%%{}", old, short));
        changed = true;
    }
    if let Some((q, qid)) = new_queue {
        if q != ticket.queue {
            let (oq, oqid) = (ticket.queue.clone(), ticket.queue_id);
            ticket.queue = q.clone();
            ticket.queue_id = qid;
            ticket.add_history(now, 0, "Move", format!("%%{}%%{}%%{}%%{}", q, qid, oq, oqid));
            changed = true;
        }
    }
    if let Some(l) = new_lock {
        if l != ticket.lock {
            ticket.lock = l.clone();
            let ht = if l == "unlock" {
                "Unlock"
            } else if l == "lock" {
                "Lock"
            } else {
                "Misc"
            };
            ticket.add_history(now, 0, ht, format!("%%{}", l));
            changed = true;
        }
    }
    if let Some(ty) = new_type {
        if ty != ticket.type_name {
            let (o, oid) = (ticket.type_name.clone(), ticket.type_id());
            ticket.type_name = ty.clone();
            let nid = ticket.type_id();
            ticket.add_history(now, 0, "TypeUpdate", format!("%%{}%%{}%%{}%%{}", ty, nid, o, oid));
            changed = true;
        }
    }
    if let Some(sname) = new_state {
        let stype = store::state(&sname).map(|x| x.1).unwrap_or("open");
        if stype.starts_with("close") && ticket.lock != "unlock" {
            ticket.lock = "unlock".into();
            ticket.add_history(now, 0, "Unlock", "%%unlock".into());
        } else if stype.starts_with("pending") {
            match pending {
                Some(p) => {
                    ticket.until_time = p;
                    ticket.add_history(now, 0, "SetPendingTime", format!("%%{}", &store::timestamp(p)[..16]));
                }
                None => {
                    return err("TicketUpdate.MissingParameter", "Can't set a ticket on a pending state without pendig time!");
                }
            }
        }
        if sname != ticket.state {
            let old = std::mem::replace(&mut ticket.state, sname.clone());
            ticket.add_history(now, 0, "StateUpdate", format!("%%{}%%{}%%", old, sname));
            if !stype.starts_with("pending") {
                ticket.until_time = 0;
                ticket.add_history(now, 0, "SetPendingTime", "%%00-00-00 00:00".into());
            }
        }
        changed = true;
    }
    if new_cu.is_some() || tv(t, "CustomerID") {
        let cu = new_cu.clone().unwrap_or_default();
        let cid_in = sv(t, "CustomerID").unwrap_or_default();
        if cu != ticket.customer_user || cid_in != ticket.customer_id {
            let mut cid = cdata.as_ref().map(|c| c.customer_id.clone()).unwrap_or_default();
            if !cid_in.is_empty() {
                cid = cid_in;
            }
            ticket.customer_user = cu.clone();
            ticket.customer_id = cid.clone();
            ticket.add_history(now, 0, "CustomerUpdate", format!("%%CustomerID={};CustomerUser={};", cid, cu));
            changed = true;
        }
    }
    if let Some(p) = new_prio {
        if p != ticket.priority {
            let (o, oid) = (ticket.priority.clone(), ticket.priority_id());
            ticket.priority = p.clone();
            let nid = ticket.priority_id();
            ticket.add_history(now, 0, "PriorityUpdate", format!("%%{}%%{}%%{}%%{}", o, oid, p, nid));
            changed = true;
        }
    }
    if let Some(o) = new_owner {
        if o != ticket.owner_id {
            ticket.owner_id = o;
            let login = user_login(ctx, o);
            ticket.add_history(now, 0, "OwnerUpdate", format!("%%{}%%{}", login, o));
            changed = true;
        }
    }
    if let Some(r) = new_resp {
        if r != ticket.responsible_id {
            ticket.responsible_id = r;
            let login = user_login(ctx, r);
            ticket.add_history(now, 0, "ResponsibleUpdate", format!("%%{}%%{}", login, r));
            changed = true;
        }
    }
    if changed {
        ticket.changed = now;
    }
    let mut lines = Vec::new();
    let last = articles.len().saturating_sub(1);
    for (i, (a, id)) in articles.iter().zip(new_article_ids).enumerate() {
        let from = match &a.from {
            Some(f) => f.clone(),
            None => agent_name.clone(),
        };
        let to = a.to.clone().unwrap_or_else(|| if a.channel == "Email" { ticket.customer_user.clone() } else { String::new() });
        let art = Article {
            id,
            ticket_id,
            from,
            to,
            subject: a.subject.clone(),
            body: a.body.clone(),
            content_type: a.content_type.clone(),
            charset: a.charset.clone(),
            mime_type: a.mime_type.clone(),
            channel: a.channel.clone(),
            sender_type: a.sender_type.clone(),
            visible: a.visible,
            created: now,
            time_unit: a.time_unit.clone(),
            attachments: Vec::new(),
        };
        let mut art = art;
        if i == last {
            // the files go with the article whose ID the reply names
            if let Err(e) = store_attachments(&mut art, files.take().unwrap_or_default(), ctx.max_file) {
                file_error = Some(e);
            }
        }
        let hc = if a.history_comment.is_empty() { "%%".to_string() } else { a.history_comment.clone() };
        ticket.add_article(art.clone(), now, &a.history_type, &hc);
        if !a.time_unit.is_empty() {
            let tu: f64 = a.time_unit.replace(',', ".").parse().unwrap_or(0.0);
            ticket.time_unit_total += tu;
            let total = fmt_units(ticket.time_unit_total);
            ticket.add_history(now, id, "TimeAccounting", format!("%%{}%%{}", a.time_unit, total));
        }
        lines.push(control_article_line(ticket, &art, auth_kind, "generic", ctx.soapaction, ctx.now_ms));
        article_ids.push(id);
    }
    let _ = user_id;
    let tn = ticket.tn.clone();
    st.lines.extend(lines);
    drop(st);
    // files without an article: CreateAttachment gets no ArticleID and fails
    if files.is_some_and(|f| !f.is_empty()) {
        file_error = Some("Attachment could not be created, please contact the system administrator".into());
    }
    if let Some(e) = file_error {
        return OpResult { outcome: Outcome::Fault(e), ticket_lines: vec![] };
    }

    let mut r = Hash::new();
    r.insert("TicketID".into(), s(ticket_id));
    r.insert("TicketNumber".into(), s(tn));
    match article_ids.len() {
        0 => {}
        1 => {
            r.insert("ArticleID".into(), s(article_ids[0]));
        }
        _ => {
            r.insert("ArticleIDs".into(), Val::Array(article_ids.into_iter().map(s).collect()));
        }
    }
    data(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(check_email("ivanov@example.invalid"));
        assert!(check_email("a.b-c+d@mail.example.com"));
        assert!(!check_email("89990000000"));
        assert!(!check_email("ivanov"));
        assert!(!check_email("a@b"));
        assert!(validate_from("Ivan Ivanov <ivanov@example.invalid>"));
        assert!(validate_from("\"Ivan Ivanov\" <ivanov@example.invalid>"));
        assert!(!validate_from("Ivan Ivanov <ivanov>"));
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type_charset("text/plain; charset=utf8"), "utf8");
        assert_eq!(content_type_charset("text/plain; charset=\"utf-8\"; format=flowed"), "utf-8");
        assert_eq!(content_type_mime("text/plain; charset=utf8"), "text/plain");
        assert!(charset_known("utf8") && charset_known("ISO-8859-5") && !charset_known("bogus"));
    }

    #[test]
    fn session_ids() {
        let a = random_session_id();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, random_session_id());
    }

    #[test]
    fn pending_times() {
        let mut h = Hash::new();
        h.insert("Diff".into(), Val::s("60"));
        assert_eq!(pending_time(Some(&Val::Hash(h)), 1000), Some(4600));
        let mut h = Hash::new();
        for (k, v) in [("Year", "2026"), ("Month", "11"), ("Day", "26"), ("Hour", "8"), ("Minute", "28")] {
            h.insert(k.into(), Val::s(v));
        }
        assert_eq!(pending_time(Some(&Val::Hash(h)), 0), Some(1795681680));
    }
}
