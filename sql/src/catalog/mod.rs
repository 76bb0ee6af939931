//! The catalog: every named object of the database, durable in the engine's store.
//!
//! [`Catalog`] is the DataFusion `SchemaProvider` of the `public` schema, so queries resolve
//! names through it. It keeps each object's stored definition ([`object::ObjectDef`]) next to the
//! live object DataFusion reads (a [`DurableTable`], a view's `ViewTable`). Every change is one
//! atomic store write (the object, the id counter and, for tables, data), applied before the
//! in-memory map changes: what a client was told exists survives a crash.
//!
//! Views are bound to what they read: an object that a view depends on cannot be dropped unless
//! the drop cascades (PostgreSQL's rule), so a restored view always re-plans.
//!
//! Connector tables (Flink `CREATE TABLE ... WITH (...)`) and materialized views live here too.
//! A materialized view's rows are a [`SnapshotTable`] its job publishes into; the catalog only
//! keeps the definition and the table, the server runs the job.

pub mod object;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::common::{DataFusionError, Result as DfResult, exec_err};
use datafusion::datasource::ViewTable;
use datafusion::execution::SessionState;
use runnel_engine::storage::{decode_schema, encode_schema};
use runnel_engine::table::snapshot::SnapshotTable;
use runnel_engine::{DurableTable, StorageError, Store, StoreWrite};

use crate::error::{SqlError, SqlState};
use crate::streaming::{StreamTable, StreamTableProvider};
use object::{ConnectorTableDef, MaterializedViewDef, ObjectDef, ObjectKind, TableDef, ViewDef};

const NEXT_ID_KEY: &str = "next_object_id";

/// A live catalog object.
#[derive(Debug, Clone)]
pub enum CatalogObject {
    /// A durable table and its definition.
    Table {
        /// Stored definition.
        def: TableDef,
        /// The table DataFusion reads and writes.
        table: DurableTable,
    },
    /// A view and its definition.
    View {
        /// Stored definition.
        def: ViewDef,
        /// The view DataFusion expands.
        view: Arc<ViewTable>,
    },
    /// A connector table and its definition.
    ConnectorTable {
        /// Stored definition.
        def: ConnectorTableDef,
        /// The bound table.
        table: Arc<StreamTable>,
    },
    /// A materialized view and its definition.
    MaterializedView {
        /// Stored definition.
        def: MaterializedViewDef,
        /// The rows its job has published.
        table: SnapshotTable,
    },
}

impl CatalogObject {
    /// The stored definition.
    pub fn def(&self) -> ObjectDef {
        match self {
            CatalogObject::Table { def, .. } => ObjectDef::Table(def.clone()),
            CatalogObject::View { def, .. } => ObjectDef::View(def.clone()),
            CatalogObject::ConnectorTable { def, .. } => ObjectDef::ConnectorTable(def.clone()),
            CatalogObject::MaterializedView { def, .. } => ObjectDef::MaterializedView(def.clone()),
        }
    }

    /// The table provider DataFusion uses.
    pub fn provider(&self) -> Arc<dyn TableProvider> {
        match self {
            CatalogObject::Table { table, .. } => Arc::new(table.clone()),
            CatalogObject::View { view, .. } => view.clone(),
            CatalogObject::ConnectorTable { table, .. } => Arc::new(StreamTableProvider {
                table: table.clone(),
            }),
            CatalogObject::MaterializedView { table, .. } => Arc::new(table.clone()),
        }
    }

    /// Table, view or materialized view (a connector table is a table).
    pub fn kind(&self) -> ObjectKind {
        self.def().kind()
    }

    fn depends_on(&self) -> &[String] {
        match self {
            CatalogObject::Table { .. } | CatalogObject::ConnectorTable { .. } => &[],
            CatalogObject::View { def, .. } => &def.depends_on,
            CatalogObject::MaterializedView { def, .. } => &def.depends_on,
        }
    }
}

/// The catalog of the `public` schema.
#[derive(Debug)]
pub struct Catalog {
    store: Arc<Store>,
    objects: RwLock<BTreeMap<String, CatalogObject>>,
    /// Views and connector tables loaded from the store but not yet planned or bound (see
    /// [`Catalog::restore_views`]), in creation order.
    pending: Mutex<Vec<ObjectDef>>,
    /// Serializes catalog changes and holds the next object id.
    next_id: Mutex<u64>,
}

impl Catalog {
    /// Loads the catalog from `store`. Tables and materialized views are live at once; views
    /// and connector tables wait for [`Catalog::restore_views`], which needs a session to plan
    /// and bind them.
    pub fn open(store: Arc<Store>) -> Result<Arc<Catalog>, SqlError> {
        let mut objects = BTreeMap::new();
        let mut views = Vec::new();
        for (name, bytes) in store.catalog_objects().map_err(storage_error)? {
            let def: ObjectDef = serde_json::from_slice(&bytes).map_err(|e| {
                SqlError::new(
                    SqlState::INTERNAL_ERROR,
                    format!("catalog object {name} cannot be decoded: {e}"),
                )
            })?;
            match def {
                ObjectDef::Table(def) => {
                    let schema =
                        decode_schema(&hex_decode(&def.schema_ipc)?).map_err(storage_error)?;
                    let table =
                        DurableTable::open(def.id, schema, store.clone()).map_err(storage_error)?;
                    objects.insert(name, CatalogObject::Table { def, table });
                }
                ObjectDef::MaterializedView(def) => {
                    let schema =
                        decode_schema(&hex_decode(&def.schema_ipc)?).map_err(storage_error)?;
                    let table = SnapshotTable::new(schema);
                    objects.insert(name, CatalogObject::MaterializedView { def, table });
                }
                other @ (ObjectDef::View(_) | ObjectDef::ConnectorTable(_)) => views.push(other),
            }
        }
        views.sort_by_key(ObjectDef::id);
        let next_id = store
            .meta_u64(NEXT_ID_KEY)
            .map_err(storage_error)?
            .unwrap_or(1);
        Ok(Arc::new(Catalog {
            store,
            objects: RwLock::new(objects),
            pending: Mutex::new(views),
            next_id: Mutex::new(next_id),
        }))
    }

    /// Re-plans the stored views and re-binds the connector tables, in creation order, with
    /// `state` (whose catalog must resolve to this one). An object that no longer plans is
    /// reported and left out, never silently lost: its definition stays in the store.
    pub async fn restore_views(&self, state: &SessionState) -> Vec<(String, SqlError)> {
        let pending = std::mem::take(&mut *lock(&self.pending));
        let mut failures = Vec::new();
        for def in pending {
            match def {
                ObjectDef::View(def) => {
                    match crate::ddl::plan_view_definition(state, &def.definition).await {
                        Ok(plan) => {
                            let view = Arc::new(ViewTable::new(plan, Some(def.definition.clone())));
                            write_guard(&self.objects)
                                .insert(def.name.clone(), CatalogObject::View { def, view });
                        }
                        Err(error) => failures.push((def.name.clone(), error)),
                    }
                }
                ObjectDef::ConnectorTable(def) => {
                    let bound =
                        crate::flink::parse_create_table(&def.definition).and_then(|parsed| {
                            StreamTable::bind(parsed, def.definition.clone(), state)
                        });
                    match bound {
                        Ok(table) => {
                            let table = Arc::new(table);
                            write_guard(&self.objects).insert(
                                def.name.clone(),
                                CatalogObject::ConnectorTable { def, table },
                            );
                        }
                        Err(error) => failures.push((def.name.clone(), error)),
                    }
                }
                ObjectDef::Table(_) | ObjectDef::MaterializedView(_) => {}
            }
        }
        failures
    }

    /// The object named `name`, if any.
    pub fn get(&self, name: &str) -> Option<CatalogObject> {
        read(&self.objects).get(name).cloned()
    }

    /// Every object, in name order.
    pub fn objects(&self) -> Vec<CatalogObject> {
        read(&self.objects).values().cloned().collect()
    }

    /// Creates a durable table holding `initial` rows (for `CREATE TABLE AS`), atomically.
    pub fn create_table(
        &self,
        name: &str,
        schema: SchemaRef,
        definition: String,
        initial: Vec<RecordBatch>,
    ) -> Result<(), SqlError> {
        let mut next_id = lock(&self.next_id);
        self.check_free(name)?;
        let id = *next_id;
        let def = TableDef {
            id,
            name: name.to_string(),
            definition,
            schema_ipc: hex_encode(&encode_schema(&schema).map_err(storage_error)?),
        };
        let mut write = StoreWrite::default();
        write.put_catalog_object(name, encode(&ObjectDef::Table(def.clone()))?);
        write.put_meta_u64(NEXT_ID_KEY, id + 1);
        let initial: Vec<_> = initial.into_iter().filter(|b| b.num_rows() > 0).collect();
        if !initial.is_empty() {
            let conformed = initial
                .into_iter()
                .map(|b| RecordBatch::try_new(schema.clone(), b.columns().to_vec()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| SqlError::new(SqlState::INTERNAL_ERROR, e.to_string()))?;
            write
                .append_segment(id, 0, &conformed)
                .map_err(storage_error)?;
        }
        self.store.commit(write).map_err(storage_error)?;
        *next_id = id + 1;
        let table = DurableTable::open(id, schema, self.store.clone()).map_err(storage_error)?;
        write_guard(&self.objects).insert(name.to_string(), CatalogObject::Table { def, table });
        Ok(())
    }

    /// Creates (or, with `or_replace`, replaces) a view over `plan`.
    pub fn create_view(
        &self,
        name: &str,
        plan: datafusion::logical_expr::LogicalPlan,
        definition: String,
        or_replace: bool,
    ) -> Result<(), SqlError> {
        let mut next_id = lock(&self.next_id);
        let existing = self.get(name);
        match &existing {
            Some(object) if or_replace && object.kind() == ObjectKind::View => {
                if let Some(dependent) = self.dependents(name).into_iter().next() {
                    return Err(SqlError::unsupported(format!(
                        "cannot replace view \"{name}\" because view \"{dependent}\" depends on it"
                    ))
                    .with_hint("drop the dependent views first, or use DROP VIEW ... CASCADE"));
                }
            }
            Some(_) => return Err(duplicate(name)),
            None => {}
        }
        let depends_on = crate::ddl::referenced_objects(&plan, self);
        if depends_on.iter().any(|d| d == name) {
            return Err(SqlError::new(
                SqlState::SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION,
                format!("view \"{name}\" cannot read itself"),
            ));
        }
        let id = *next_id;
        let def = ViewDef {
            id,
            name: name.to_string(),
            definition: definition.clone(),
            depends_on,
        };
        let mut write = StoreWrite::default();
        write.put_catalog_object(name, encode(&ObjectDef::View(def.clone()))?);
        write.put_meta_u64(NEXT_ID_KEY, id + 1);
        self.store.commit(write).map_err(storage_error)?;
        *next_id = id + 1;
        let view = Arc::new(ViewTable::new(plan, Some(definition)));
        write_guard(&self.objects).insert(name.to_string(), CatalogObject::View { def, view });
        Ok(())
    }

    /// Creates a connector table from a bound Flink `CREATE TABLE`.
    pub fn create_connector_table(&self, table: StreamTable) -> Result<(), SqlError> {
        let mut next_id = lock(&self.next_id);
        let name = table.name().to_string();
        self.check_free(&name)?;
        let id = *next_id;
        let def = ConnectorTableDef {
            id,
            name: name.clone(),
            definition: table.definition.clone(),
        };
        let mut write = StoreWrite::default();
        write.put_catalog_object(&name, encode(&ObjectDef::ConnectorTable(def.clone()))?);
        write.put_meta_u64(NEXT_ID_KEY, id + 1);
        self.store.commit(write).map_err(storage_error)?;
        *next_id = id + 1;
        let table = Arc::new(table);
        write_guard(&self.objects).insert(name, CatalogObject::ConnectorTable { def, table });
        Ok(())
    }

    /// Creates a materialized view whose rows have `schema`, reading `depends_on`. Returns the
    /// (empty) table its job publishes into.
    pub fn create_materialized_view(
        &self,
        name: &str,
        schema: SchemaRef,
        definition: String,
        depends_on: Vec<String>,
    ) -> Result<SnapshotTable, SqlError> {
        let mut next_id = lock(&self.next_id);
        self.check_free(name)?;
        let id = *next_id;
        let def = MaterializedViewDef {
            id,
            name: name.to_string(),
            definition,
            schema_ipc: hex_encode(&encode_schema(&schema).map_err(storage_error)?),
            depends_on,
        };
        let mut write = StoreWrite::default();
        write.put_catalog_object(name, encode(&ObjectDef::MaterializedView(def.clone()))?);
        write.put_meta_u64(NEXT_ID_KEY, id + 1);
        self.store.commit(write).map_err(storage_error)?;
        *next_id = id + 1;
        let table = SnapshotTable::new(schema);
        write_guard(&self.objects).insert(
            name.to_string(),
            CatalogObject::MaterializedView {
                def,
                table: table.clone(),
            },
        );
        Ok(table)
    }

    /// Drops `name`, which must be of `kind`. With `cascade`, objects that depend on it are
    /// dropped too; without, their existence is an error. Returns the names dropped, with
    /// their kinds.
    pub fn drop_object(
        &self,
        name: &str,
        kind: ObjectKind,
        if_exists: bool,
        cascade: bool,
    ) -> Result<Vec<(String, ObjectKind)>, SqlError> {
        let _serial = lock(&self.next_id);
        let Some(object) = self.get(name) else {
            if if_exists {
                return Ok(Vec::new());
            }
            return Err(SqlError::new(
                SqlState::UNDEFINED_TABLE,
                format!("{kind} \"{name}\" does not exist"),
            ));
        };
        if object.kind() != kind {
            return Err(SqlError::new(
                SqlState::WRONG_OBJECT_TYPE,
                format!("\"{name}\" is not a {kind}"),
            )
            .with_hint(format!(
                "Use DROP {} to remove a {}.",
                object.kind().to_string().to_uppercase(),
                object.kind()
            )));
        }
        let mut doomed = vec![name.to_string()];
        let mut index = 0;
        while index < doomed.len() {
            let current = doomed[index].clone();
            let dependents = self.dependents(&current);
            if !dependents.is_empty() && !cascade {
                let dependent = &dependents[0];
                return Err(SqlError::new(
                    SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
                    format!("cannot drop {kind} {name} because other objects depend on it"),
                )
                .with_detail(format!(
                    "{} {dependent} depends on {} {current}",
                    self.kind_of(dependent),
                    self.kind_of(&current)
                ))
                .with_hint("Use DROP ... CASCADE to drop the dependent objects too."));
            }
            for dependent in dependents {
                if !doomed.contains(&dependent) {
                    doomed.push(dependent);
                }
            }
            index += 1;
        }
        let mut write = StoreWrite::default();
        for doomed_name in &doomed {
            write.delete_catalog_object(doomed_name);
            if let Some(CatalogObject::Table { def, .. }) = self.get(doomed_name) {
                write.clear_table(def.id);
            }
        }
        self.store.commit(write).map_err(storage_error)?;
        let mut objects = write_guard(&self.objects);
        let mut dropped = Vec::with_capacity(doomed.len());
        for doomed_name in doomed {
            if let Some(object) = objects.remove(&doomed_name) {
                dropped.push((doomed_name, object.kind()));
            }
        }
        Ok(dropped)
    }

    fn kind_of(&self, name: &str) -> String {
        self.get(name)
            .map(|o| o.kind().to_string())
            .unwrap_or_default()
    }

    fn dependents(&self, name: &str) -> Vec<String> {
        read(&self.objects)
            .iter()
            .filter(|(_, object)| object.depends_on().iter().any(|d| d == name))
            .map(|(n, _)| n.clone())
            .collect()
    }

    fn check_free(&self, name: &str) -> Result<(), SqlError> {
        if read(&self.objects).contains_key(name)
            || lock(&self.pending).iter().any(|v| v.name() == name)
        {
            return Err(duplicate(name));
        }
        Ok(())
    }
}

fn duplicate(name: &str) -> SqlError {
    SqlError::new(
        SqlState::DUPLICATE_TABLE,
        format!("relation \"{name}\" already exists"),
    )
}

#[async_trait]
impl SchemaProvider for Catalog {
    fn table_names(&self) -> Vec<String> {
        read(&self.objects).keys().cloned().collect()
    }

    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        Ok(read(&self.objects).get(name).map(CatalogObject::provider))
    }

    fn register_table(
        &self,
        name: String,
        _table: Arc<dyn TableProvider>,
    ) -> DfResult<Option<Arc<dyn TableProvider>>> {
        exec_err!("cannot register {name} directly: use CREATE TABLE or CREATE VIEW")
    }

    fn deregister_table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        Err(DataFusionError::Execution(format!(
            "cannot deregister {name} directly: use DROP TABLE or DROP VIEW"
        )))
    }

    fn table_exist(&self, name: &str) -> bool {
        read(&self.objects).contains_key(name)
    }
}

fn encode(def: &ObjectDef) -> Result<Vec<u8>, SqlError> {
    serde_json::to_vec(def).map_err(|e| SqlError::new(SqlState::INTERNAL_ERROR, e.to_string()))
}

fn storage_error(error: StorageError) -> SqlError {
    SqlError::new(SqlState::IO_ERROR, error.to_string())
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode(text: &str) -> Result<Vec<u8>, SqlError> {
    let corrupt = || SqlError::new(SqlState::INTERNAL_ERROR, "catalog schema is not valid hex");
    if !text.len().is_multiple_of(2) {
        return Err(corrupt());
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(text.get(i..i + 2).ok_or_else(corrupt)?, 16).map_err(|_| corrupt())
        })
        .collect()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write_guard<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
