//! A MySQL / MariaDB table of customers: Znuny's own `customer_user` or any
//! table with a column map.

use std::sync::Arc;

use mysql::prelude::Queryable;
use mysql::Conn;

use super::cancel::{Cutter, Relay};
use super::config::SqlMap;
use super::sql::{changed_sql, full_sql, row_from_cells, Dialect};
use super::CustomerSource;
use crate::customers::db::{ChangeTime, CustomerRow, DbSettings};

#[derive(Debug)]
pub(crate) struct MysqlSource {
    db: DbSettings,
    map: SqlMap,
}

impl MysqlSource {
    pub(crate) fn new(db: DbSettings, map: SqlMap) -> Self {
        MysqlSource { db, map }
    }
}

impl CustomerSource for MysqlSource {
    fn kind(&self) -> &'static str {
        "mysql"
    }

    fn describe(&self) -> String {
        format!("{} user '{}' table {}", self.db.target(), self.db.user, self.map.table)
    }

    fn incremental(&self) -> bool {
        !self.map.changed.is_empty()
    }

    /// A connection per refresh: refreshes are seconds apart, and a fresh
    /// connection needs no handling of one the server closed meanwhile
    /// (wait_timeout, restarts). Over TCP the driver talks through a
    /// [`Relay`], so that `cutter` can end a read the server stalls; a Unix
    /// socket is local and left to the per-read timeouts.
    fn fetch(
        &self,
        since: Option<(ChangeTime, i64)>,
        cutter: &Arc<Cutter>,
        each: &mut dyn FnMut(CustomerRow),
    ) -> Result<(), String> {
        let table = &self.map.table;
        let fail = |what: &str, e: mysql::Error| self.db.scrub(format!("{what} {}: {e}", self.db.target()));
        let read_fail = |e| fail(&format!("cannot read {table} from"), e);
        let mut opts = self.db.clone();
        let _relay = match self.db.socket.as_deref().filter(|s| !s.is_empty()) {
            Some(_) => None,
            None => {
                let relay = Relay::open(&self.db.host, self.db.port, self.db.connect_timeout, cutter)
                    .map_err(|e| format!("cannot connect to the OTRS database at {}: {e}", self.db.target()))?;
                opts.host = "127.0.0.1".into();
                opts.port = relay.port();
                Some(relay)
            }
        };
        let mut conn = Conn::new(opts.opts()).map_err(|e| fail("cannot connect to the OTRS database at", e))?;
        let result = match since {
            None if self.map.valid.is_empty() => conn.exec_iter(full_sql(&self.map, Dialect::Mysql), ()),
            None => conn.exec_iter(full_sql(&self.map, Dialect::Mysql), (1u8,)),
            Some((t, micros)) => {
                let Some(sql) = changed_sql(&self.map, Dialect::Mysql) else {
                    return Ok(());
                };
                conn.exec_iter(sql, (t.to_value(), micros))
            }
        }
        .map_err(read_fail)?;
        for row in result {
            let row = row.map_err(read_fail)?;
            let cells = row.unwrap();
            // A row without id or login cannot be a ticket's customer: skip it.
            if let Some(row) = row_from_cells(&self.map, &cells) {
                each(row);
            }
        }
        Ok(())
    }

    fn secrets(&self) -> Vec<&str> {
        vec![&self.db.password]
    }
}
