//! Customer users: the `customer_user` table of the MariaDB given by --db
//! (queried with bound parameters on every lookup, so rows added while the
//! stand-in runs are seen), or a fixed list from --customers.

use mysql::prelude::Queryable;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Customer {
    pub login: String,
    pub email: String,
    pub customer_id: String,
    pub first_name: String,
    pub last_name: String,
    pub valid_id: i64,
    /// What only rpc.pl's CustomerUserDataGet shows; filled by
    /// [`Customers::details`] (defaults elsewhere).
    pub extra: Extra,
}

/// The rest of a `customer_user` row and its `customer_company` row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extra {
    pub title: String,
    pub phone: String,
    pub fax: String,
    pub mobile: String,
    pub street: String,
    pub zip: String,
    pub city: String,
    pub country: String,
    pub comments: String,
    pub pw: String,
    /// `2026-11-26 08:28:19`
    pub create_time: String,
    pub change_time: String,
    pub create_by: i64,
    pub change_by: i64,
    /// customer_preferences UserLastPwChangeTime / UserLoginFailed
    pub last_pw_change: Option<i64>,
    pub login_failed: Option<i64>,
    pub company: Option<Company>,
}

/// A `customer_company` row; NULL columns are None.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Company {
    pub customer_id: String,
    pub name: String,
    pub street: Option<String>,
    pub zip: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub url: Option<String>,
    pub comments: Option<String>,
    pub valid_id: i64,
    pub create_time: String,
    pub change_time: String,
    pub create_by: i64,
    pub change_by: i64,
}

impl Customer {
    /// UserFullname with the default FirstnameOrder (first name first).
    pub fn full_name(&self) -> String {
        let n = format!("{} {}", self.first_name, self.last_name);
        n.trim().to_string()
    }
}

pub enum Customers {
    Db { url: String, pool: Mutex<Option<mysql::Pool>> },
    List(Vec<Customer>),
}

const SELECT: &str = "SELECT login, COALESCE(email, ''), COALESCE(customer_id, ''), \
COALESCE(first_name, ''), COALESCE(last_name, ''), valid_id FROM customer_user";

type Row = (String, String, String, String, String, i64);

fn row_to_customer(r: Row) -> Customer {
    Customer { login: r.0, email: r.1, customer_id: r.2, first_name: r.3, last_name: r.4, valid_id: r.5, extra: Extra::default() }
}

const SELECT_DETAILS: &str = "SELECT login, COALESCE(email, ''), COALESCE(customer_id, ''), \
COALESCE(first_name, ''), COALESCE(last_name, ''), valid_id, title, phone, fax, mobile, street, zip, city, \
country, comments, pw, DATE_FORMAT(create_time, '%Y-%m-%d %H:%i:%s'), DATE_FORMAT(change_time, '%Y-%m-%d %H:%i:%s'), \
create_by, change_by FROM customer_user WHERE LOWER(login) = LOWER(?) LIMIT 1";

const SELECT_COMPANY: &str = "SELECT customer_id, name, street, zip, city, country, url, comments, valid_id, \
DATE_FORMAT(create_time, '%Y-%m-%d %H:%i:%s'), DATE_FORMAT(change_time, '%Y-%m-%d %H:%i:%s'), create_by, change_by \
FROM customer_company WHERE customer_id = ? LIMIT 1";

/// Column `i` of a row as text; NULL (and a missing column) is None.
fn col(row: &mysql::Row, i: usize) -> Option<String> {
    match row.as_ref(i)? {
        mysql::Value::NULL => None,
        mysql::Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        mysql::Value::Int(n) => Some(n.to_string()),
        mysql::Value::UInt(n) => Some(n.to_string()),
        other => Some(other.as_sql(true).trim_matches('\'').to_string()),
    }
}

fn col_i64(row: &mysql::Row, i: usize) -> i64 {
    col(row, i).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

impl Customers {
    pub fn from_db(url: &str) -> Customers {
        Customers::Db { url: url.to_string(), pool: Mutex::new(None) }
    }

    /// `--customers a,b,c`; an entry may carry details as
    /// `login:customer_id:email:First Last`.
    pub fn from_list(list: &str) -> Customers {
        let mut v = Vec::new();
        for item in list.split(',') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let mut parts = item.splitn(4, ':');
            let login = parts.next().unwrap_or("").to_string();
            let customer_id = parts.next().map(str::to_string).unwrap_or_else(|| login.clone());
            let email = parts.next().map(str::to_string).unwrap_or_else(|| format!("{}@example.invalid", login));
            let name = parts.next().unwrap_or("").to_string();
            let (first, last) = match name.split_once(' ') {
                Some((f, l)) => (f.to_string(), l.to_string()),
                None => (if name.is_empty() { login.clone() } else { name }, String::new()),
            };
            v.push(Customer {
                login,
                email,
                customer_id,
                first_name: first,
                last_name: last,
                valid_id: 1,
                extra: Extra::default(),
            });
        }
        Customers::List(v)
    }

    fn pool(url: &str, slot: &Mutex<Option<mysql::Pool>>) -> Result<mysql::Pool, String> {
        let mut g = slot.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = g.as_ref() {
            return Ok(p.clone());
        }
        let opts = mysql::Opts::from_url(url).map_err(|e| format!("bad --db URL: {}", e))?;
        let constraints = mysql::PoolConstraints::new(0, 32).expect("constraints");
        let builder = mysql::OptsBuilder::from_opts(opts)
            .pool_opts(mysql::PoolOpts::default().with_constraints(constraints))
            .tcp_connect_timeout(Some(Duration::from_secs(5)))
            .read_timeout(Some(Duration::from_secs(10)))
            .write_timeout(Some(Duration::from_secs(10)));
        let p = mysql::Pool::new(builder).map_err(|e| format!("database: {}", e))?;
        *g = Some(p.clone());
        Ok(p)
    }

    fn query(&self, sql_where: &str, param: &str) -> Result<Option<Customer>, String> {
        match self {
            Customers::List(_) => Ok(None),
            Customers::Db { url, pool } => {
                let p = Self::pool(url, pool)?;
                let mut conn = p.get_conn().map_err(|e| format!("database: {}", e))?;
                let sql = format!("{} {} LIMIT 1", SELECT, sql_where);
                let r: Option<Row> = conn.exec_first(sql, (param,)).map_err(|e| format!("database: {}", e))?;
                Ok(r.map(row_to_customer))
            }
        }
    }

    /// CustomerUserDataGet(User => login): case-insensitive login match, any
    /// valid_id (the caller checks validity).
    pub fn by_login(&self, login: &str) -> Result<Option<Customer>, String> {
        match self {
            Customers::List(v) => Ok(v.iter().find(|c| c.login.to_lowercase() == login.to_lowercase()).cloned()),
            Customers::Db { .. } => self.query("WHERE LOWER(login) = LOWER(?)", login),
        }
    }

    /// CustomerUserDataGet for rpc.pl: the customer with [`Extra`] and its
    /// company (None: no such company row).
    pub fn details(&self, login: &str) -> Result<Option<Customer>, String> {
        match self {
            Customers::List(v) => Ok(v.iter().find(|c| c.login.to_lowercase() == login.to_lowercase()).cloned()),
            Customers::Db { url, pool } => {
                let p = Self::pool(url, pool)?;
                let mut conn = p.get_conn().map_err(|e| format!("database: {}", e))?;
                let row: Option<mysql::Row> =
                    conn.exec_first(SELECT_DETAILS, (login,)).map_err(|e| format!("database: {}", e))?;
                let Some(r) = row else { return Ok(None) };
                let text = |i: usize| col(&r, i).unwrap_or_default();
                let mut c = Customer {
                    login: text(0),
                    email: text(1),
                    customer_id: text(2),
                    first_name: text(3),
                    last_name: text(4),
                    valid_id: col_i64(&r, 5),
                    extra: Extra {
                        title: text(6),
                        phone: text(7),
                        fax: text(8),
                        mobile: text(9),
                        street: text(10),
                        zip: text(11),
                        city: text(12),
                        country: text(13),
                        comments: text(14),
                        pw: text(15),
                        create_time: text(16),
                        change_time: text(17),
                        create_by: col_i64(&r, 18),
                        change_by: col_i64(&r, 19),
                        ..Extra::default()
                    },
                };
                let company: Option<mysql::Row> =
                    conn.exec_first(SELECT_COMPANY, (c.customer_id.as_str(),)).map_err(|e| format!("database: {}", e))?;
                c.extra.company = company.map(|r| Company {
                    customer_id: col(&r, 0).unwrap_or_default(),
                    name: col(&r, 1).unwrap_or_default(),
                    street: col(&r, 2),
                    zip: col(&r, 3),
                    city: col(&r, 4),
                    country: col(&r, 5),
                    url: col(&r, 6),
                    comments: col(&r, 7),
                    valid_id: col_i64(&r, 8),
                    create_time: col(&r, 9).unwrap_or_default(),
                    change_time: col(&r, 10).unwrap_or_default(),
                    create_by: col_i64(&r, 11),
                    change_by: col_i64(&r, 12),
                });
                Ok(Some(c))
            }
        }
    }

    /// CustomerSearch(PostMasterSearch => email): valid customers whose email
    /// is the given address.
    pub fn by_email(&self, email: &str) -> Result<Option<Customer>, String> {
        match self {
            Customers::List(v) => Ok(v
                .iter()
                .filter(|c| c.valid_id == 1 && c.email.to_lowercase() == email.to_lowercase())
                .min_by(|a, b| a.login.cmp(&b.login))
                .cloned()),
            Customers::Db { .. } => self.query("WHERE LOWER(email) = LOWER(?) AND valid_id = 1 ORDER BY login", email),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_parsing() {
        let c = Customers::from_list("ivanov:ACME:ivanov@example.invalid:Ivan Ivanov, petrov");
        let i = c.by_login("IVANOV").unwrap().unwrap();
        assert_eq!(i.customer_id, "ACME");
        assert_eq!(i.full_name(), "Ivan Ivanov");
        let p = c.by_login("petrov").unwrap().unwrap();
        assert_eq!(p.customer_id, "petrov");
        assert_eq!(c.by_email("ivanov@example.invalid").unwrap().unwrap().login, "ivanov");
        assert!(c.by_login("nobody").unwrap().is_none());
    }
}
