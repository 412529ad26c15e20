//! Where the tenant context survives a restart: the last good cluster inventory and every
//! product's namespace claims, each with the commit it was read at. A restart while GitLab is
//! unreachable keeps checking with them, and a restart with GitLab reachable downloads only the
//! products whose default-branch head moved.
//!
//! [`TenantStore`] is the whole interface the service uses, so another database (the PostgreSQL
//! queue backend) can implement it with two tables of the same shape. [`SqliteTenantStore`] keeps
//! them in the queue's SQLite file, on a connection of its own: the writes are rare (a tenant
//! push, a product's default-branch push) and must not wait behind the queue's group commits, nor
//! the queue's behind a large claims row.

use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

/// The cluster inventory as last read from the tenant repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredInventory {
    /// The tenant repository's project id.
    pub project_id: i64,
    /// Its path with namespace.
    pub project_path: String,
    pub commit: String,
    /// Unix seconds of the refresh that read it.
    pub updated_at: i64,
    /// (path in the tenant repository, text) of every Cluster file.
    pub files: Vec<(String, String)>,
}

/// One product's claims as last read from its `default.project`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredProduct {
    /// The `default.project` project's id.
    pub project_id: i64,
    /// `product-<group id>`.
    pub product: String,
    pub path_with_namespace: String,
    pub commit: String,
    pub updated_at: i64,
    /// The claims as JSON (an array of the context document's claims).
    pub claims_json: String,
}

/// Everything stored.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stored {
    pub inventory: Option<StoredInventory>,
    pub products: Vec<StoredProduct>,
}

/// The tenant context's storage. Calls block (run them on the blocking pool).
pub trait TenantStore: Send + Sync {
    fn load(&self) -> Result<Stored, String>;
    fn save_inventory(&self, inventory: &StoredInventory) -> Result<(), String>;
    fn save_product(&self, product: &StoredProduct) -> Result<(), String>;
    /// Forgets products (a `default.project` deleted, or no longer readable by the token).
    fn remove_products(&self, project_ids: &[i64]) -> Result<(), String>;
}

/// The inventory row's columns and the products, as both stores read them.
type InventoryRow = (i64, String, String, i64, String);

fn stored(inventory: Option<InventoryRow>, products: Vec<StoredProduct>) -> Result<Stored, String> {
    let inventory = match inventory {
        None => None,
        Some((project_id, project_path, commit, updated_at, files)) => Some(StoredInventory {
            project_id,
            project_path,
            commit,
            updated_at,
            files: serde_json::from_str(&files)
                .map_err(|e| format!("tenant store: the stored Cluster files: {e}"))?,
        }),
    };
    Ok(Stored {
        inventory,
        products,
    })
}

/// The migration: two tables next to the queue's, created when missing.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tenant_inventory (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    project_id  INTEGER NOT NULL,
    project     TEXT    NOT NULL,
    commit_sha  TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL,
    files       TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS tenant_products (
    project_id          INTEGER PRIMARY KEY,
    product             TEXT    NOT NULL,
    path_with_namespace TEXT    NOT NULL,
    commit_sha          TEXT    NOT NULL,
    updated_at          INTEGER NOT NULL,
    claims              TEXT    NOT NULL
);
";

pub struct SqliteTenantStore {
    conn: Mutex<Connection>,
}

impl SqliteTenantStore {
    /// Opens the queue's database file (already in WAL mode) and adds the tables.
    pub fn open(path: &Path) -> Result<SqliteTenantStore, String> {
        let err = |e: rusqlite::Error| format!("{}: {e}", path.display());
        let conn = Connection::open(path).map_err(err)?;
        // The queue's writer thread holds the write lock for one batch at a time.
        conn.busy_timeout(Duration::from_secs(10)).map_err(err)?;
        conn.execute_batch("PRAGMA synchronous=FULL;")
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        Ok(SqliteTenantStore {
            conn: Mutex::new(conn),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T, String> {
        let mut c = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut c).map_err(|e| format!("tenant store: {e}"))
    }
}

impl TenantStore for SqliteTenantStore {
    fn load(&self) -> Result<Stored, String> {
        let (inventory, products) = self.with(|c| {
            let inventory = c
                .query_row(
                    "SELECT project_id, project, commit_sha, updated_at, files
                     FROM tenant_inventory WHERE id=1",
                    [],
                    |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, i64>(3)?,
                            r.get::<_, String>(4)?,
                        ))
                    },
                )
                .optional()?;
            let mut st = c.prepare(
                "SELECT project_id, product, path_with_namespace, commit_sha, updated_at, claims
                 FROM tenant_products ORDER BY project_id",
            )?;
            let products = st
                .query_map([], |r| {
                    Ok(StoredProduct {
                        project_id: r.get(0)?,
                        product: r.get(1)?,
                        path_with_namespace: r.get(2)?,
                        commit: r.get(3)?,
                        updated_at: r.get(4)?,
                        claims_json: r.get(5)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((inventory, products))
        })?;
        stored(inventory, products)
    }

    fn save_inventory(&self, inv: &StoredInventory) -> Result<(), String> {
        let files = serde_json::to_string(&inv.files).map_err(|e| e.to_string())?;
        self.with(|c| {
            c.execute(
                "INSERT INTO tenant_inventory
                    (id, project_id, project, commit_sha, updated_at, files)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (id) DO UPDATE SET project_id=excluded.project_id,
                    project=excluded.project, commit_sha=excluded.commit_sha,
                    updated_at=excluded.updated_at, files=excluded.files",
                params![
                    inv.project_id,
                    inv.project_path,
                    inv.commit,
                    inv.updated_at,
                    files
                ],
            )
            .map(drop)
        })
    }

    fn save_product(&self, p: &StoredProduct) -> Result<(), String> {
        self.with(|c| {
            c.execute(
                "INSERT INTO tenant_products
                    (project_id, product, path_with_namespace, commit_sha, updated_at, claims)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (project_id) DO UPDATE SET product=excluded.product,
                    path_with_namespace=excluded.path_with_namespace,
                    commit_sha=excluded.commit_sha, updated_at=excluded.updated_at,
                    claims=excluded.claims",
                params![
                    p.project_id,
                    p.product,
                    p.path_with_namespace,
                    p.commit,
                    p.updated_at,
                    p.claims_json
                ],
            )
            .map(drop)
        })
    }

    fn remove_products(&self, project_ids: &[i64]) -> Result<(), String> {
        self.with(|c| {
            let tx = c.transaction()?;
            for id in project_ids {
                tx.execute("DELETE FROM tenant_products WHERE project_id=?1", [id])?;
            }
            tx.commit()
        })
    }
}

/// The same two tables in the PostgreSQL queue's database, for several replicas: each keeps its
/// own snapshot in memory, and whichever refreshes writes here. Its own small pool, so a crawl's
/// writes never wait behind deliveries for one of the queue's connections.
pub struct PgTenantStore {
    pool: deadpool_postgres::Pool,
}

/// The advisory lock the tables are created under, so replicas starting at once do not race
/// on `CREATE TABLE IF NOT EXISTS` ("nl-tenant" in ASCII, shortened).
const PG_SCHEMA_LOCK: i64 = 0x6e6c_2d74_656e_616e;

const PG_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tenant_inventory (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    project_id  BIGINT  NOT NULL,
    project     TEXT    NOT NULL,
    commit_sha  TEXT    NOT NULL,
    updated_at  BIGINT  NOT NULL,
    files       TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS tenant_products (
    project_id          BIGINT  PRIMARY KEY,
    product             TEXT    NOT NULL,
    path_with_namespace TEXT    NOT NULL,
    commit_sha          TEXT    NOT NULL,
    updated_at          BIGINT  NOT NULL,
    claims              TEXT    NOT NULL
);
";

impl PgTenantStore {
    /// Connects (two connections at most) and creates the tables when missing.
    pub async fn open(url: &str) -> Result<PgTenantStore, String> {
        let err = |e: &dyn std::fmt::Display| format!("tenant store: {e}");
        let pool = crate::server::queue::postgres::pool(
            url,
            2,
            "nautes-lint tenant",
            Duration::from_secs(10),
        )
        .map_err(|e| err(&e))?;
        let mut c = pool.get().await.map_err(|e| err(&e))?;
        let tx = c.transaction().await.map_err(|e| err(&e))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PG_SCHEMA_LOCK])
            .await
            .map_err(|e| err(&e))?;
        tx.batch_execute(PG_SCHEMA).await.map_err(|e| err(&e))?;
        tx.commit().await.map_err(|e| err(&e))?;
        drop(c);
        Ok(PgTenantStore { pool })
    }

    /// Runs `f` on a pooled connection. The trait's calls block (they run on the blocking pool),
    /// so this waits for the async client there.
    fn with<T>(
        &self,
        f: impl AsyncFnOnce(&mut deadpool_postgres::Object) -> Result<T, tokio_postgres::Error>,
    ) -> Result<T, String> {
        tokio::runtime::Handle::current().block_on(async {
            let mut c = self
                .pool
                .get()
                .await
                .map_err(|e| format!("tenant store: {e}"))?;
            f(&mut c).await.map_err(|e| format!("tenant store: {e}"))
        })
    }
}

impl TenantStore for PgTenantStore {
    fn load(&self) -> Result<Stored, String> {
        let (inventory, products) = self.with(async |c| {
            let inventory = c
                .query_opt(
                    "SELECT project_id, project, commit_sha, updated_at, files
                     FROM tenant_inventory WHERE id=1",
                    &[],
                )
                .await?
                .map(|r| {
                    (
                        r.get::<_, i64>(0),
                        r.get::<_, String>(1),
                        r.get::<_, String>(2),
                        r.get::<_, i64>(3),
                        r.get::<_, String>(4),
                    )
                });
            let products = c
                .query(
                    "SELECT project_id, product, path_with_namespace, commit_sha, updated_at,
                        claims
                     FROM tenant_products ORDER BY project_id",
                    &[],
                )
                .await?
                .iter()
                .map(|r| StoredProduct {
                    project_id: r.get(0),
                    product: r.get(1),
                    path_with_namespace: r.get(2),
                    commit: r.get(3),
                    updated_at: r.get(4),
                    claims_json: r.get(5),
                })
                .collect::<Vec<_>>();
            Ok((inventory, products))
        })?;
        stored(inventory, products)
    }

    fn save_inventory(&self, inv: &StoredInventory) -> Result<(), String> {
        let files = serde_json::to_string(&inv.files).map_err(|e| e.to_string())?;
        self.with(async |c| {
            c.execute(
                "INSERT INTO tenant_inventory
                    (id, project_id, project, commit_sha, updated_at, files)
                 VALUES (1, $1, $2, $3, $4, $5)
                 ON CONFLICT (id) DO UPDATE SET project_id=excluded.project_id,
                    project=excluded.project, commit_sha=excluded.commit_sha,
                    updated_at=excluded.updated_at, files=excluded.files",
                &[
                    &inv.project_id,
                    &inv.project_path,
                    &inv.commit,
                    &inv.updated_at,
                    &files,
                ],
            )
            .await
            .map(drop)
        })
    }

    fn save_product(&self, p: &StoredProduct) -> Result<(), String> {
        self.with(async |c| {
            c.execute(
                "INSERT INTO tenant_products
                    (project_id, product, path_with_namespace, commit_sha, updated_at, claims)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (project_id) DO UPDATE SET product=excluded.product,
                    path_with_namespace=excluded.path_with_namespace,
                    commit_sha=excluded.commit_sha, updated_at=excluded.updated_at,
                    claims=excluded.claims",
                &[
                    &p.project_id,
                    &p.product,
                    &p.path_with_namespace,
                    &p.commit,
                    &p.updated_at,
                    &p.claims_json,
                ],
            )
            .await
            .map(drop)
        })
    }

    fn remove_products(&self, project_ids: &[i64]) -> Result<(), String> {
        let ids = project_ids.to_vec();
        self.with(async |c| {
            c.execute(
                "DELETE FROM tenant_products WHERE project_id = ANY($1)",
                &[&ids],
            )
            .await
            .map(drop)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Saves, replaces and removes through one store, then reads back through `reopen()`.
    fn round_trip(store: &dyn TenantStore, reopen: &dyn Fn() -> Box<dyn TenantStore>) {
        assert_eq!(store.load().unwrap(), Stored::default());
        let inv = StoredInventory {
            project_id: 3,
            project_path: "tenant/config".into(),
            commit: "c1".into(),
            updated_at: 10,
            files: vec![("clusters/a.yaml".into(), "kind: Cluster\n".into())],
        };
        store.save_inventory(&inv).unwrap();
        let newer = StoredInventory {
            commit: "c2".into(),
            ..inv.clone()
        };
        store.save_inventory(&newer).unwrap();
        let product = |id: i64| StoredProduct {
            project_id: id,
            product: format!("product-{id}"),
            path_with_namespace: format!("g{id}/default.project"),
            commit: "p1".into(),
            updated_at: 11,
            claims_json: "[]".into(),
        };
        for id in [5, 6, 7] {
            store.save_product(&product(id)).unwrap();
        }
        store.remove_products(&[6]).unwrap();
        let again = reopen().load().unwrap();
        assert_eq!(again.inventory, Some(newer));
        assert_eq!(again.products, vec![product(5), product(7)]);
    }

    #[test]
    fn what_is_saved_is_loaded_again_after_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("q.db");
        // The queue creates the file in WAL mode first; the store adds its tables.
        let (queue, _) = crate::server::queue::Queue::open(&db).unwrap();
        let store = SqliteTenantStore::open(&db).unwrap();
        round_trip(&store, &|| Box::new(SqliteTenantStore::open(&db).unwrap()));
        drop(queue);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn what_is_saved_is_loaded_again_after_a_reopen_on_postgres() {
        let Some(url) = crate::server::queue::test_database().await else {
            return;
        };
        // Twice at once on an empty database, as two replicas start: both come up.
        let (a, b) = tokio::join!(PgTenantStore::open(&url), PgTenantStore::open(&url));
        let (store, _other) = (a.unwrap(), b.unwrap());
        let handle = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            round_trip(&store, &|| {
                Box::new(handle.block_on(PgTenantStore::open(&url)).unwrap())
            })
        })
        .await
        .unwrap();
    }
}
