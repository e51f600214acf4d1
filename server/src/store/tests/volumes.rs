//! Volume records, name reuse and attachments.

use porter_sandbox::types::{
    StatusResponsePhase as Phase, StatusResponseTerminationReason as Reason, VolumeObjectSpec,
    VolumeObjectSpecAccess, VolumePhase, VolumeType,
};
use serde_json::json;

use super::{mem, sandbox};
use crate::store::{DeleteOutcome, PhaseUpdate, StoreError, VolumeRow};

fn disk(id: &str, name: &str, created_at: i64) -> VolumeRow {
    VolumeRow {
        id: id.to_owned(),
        name: name.to_owned(),
        r#type: VolumeType::Disk,
        object: None,
        path: id.to_owned(),
        phase: VolumePhase::Ready,
        created_at,
    }
}

#[test]
fn insert_get_list() {
    let store = mem();
    let object = VolumeRow {
        r#type: VolumeType::Object,
        object: Some(
            VolumeObjectSpec::new("bucket").prefix("p").access(VolumeObjectSpecAccess::ReadOnly),
        ),
        path: String::new(),
        ..disk("vol-2", "objects", 1)
    };
    store.insert_volume(&disk("vol-1", "data", 2)).unwrap();
    store.insert_volume(&object).unwrap();
    assert_eq!(store.get_volume("vol-2").unwrap(), Some(object));
    assert_eq!(store.get_volume("vol-9").unwrap(), None);
    assert_eq!(store.volume_id_by_name("data").unwrap().as_deref(), Some("vol-1"));
    let listed: Vec<String> = store.list_volumes().unwrap().into_iter().map(|v| v.id).collect();
    assert_eq!(listed, ["vol-2", "vol-1"], "oldest first");
    store.set_volume_phase("vol-1", &VolumePhase::Failed).unwrap();
    assert_eq!(store.get_volume("vol-1").unwrap().unwrap().phase, VolumePhase::Failed);
    assert!(matches!(
        store.set_volume_phase("vol-9", &VolumePhase::Ready),
        Err(StoreError::NotFound)
    ));
}

#[test]
fn volume_names_are_reusable_after_delete() {
    let store = mem();
    store.insert_volume(&disk("vol-1", "data", 1)).unwrap();
    assert!(matches!(
        store.insert_volume(&disk("vol-2", "data", 2)),
        Err(StoreError::NameTaken(n)) if n == "data"
    ));
    assert_eq!(store.delete_volume("vol-1").unwrap(), DeleteOutcome::Deleted);
    assert_eq!(store.delete_volume("vol-1").unwrap(), DeleteOutcome::NotFound);
    assert_eq!(store.volume_id_by_name("data").unwrap(), None);
    store.insert_volume(&disk("vol-2", "data", 2)).unwrap();
    assert_eq!(store.volume_id_by_name("data").unwrap().as_deref(), Some("vol-2"));
}

#[test]
fn attached_volume_cannot_be_deleted() {
    let store = mem();
    store.insert_volume(&disk("vol-1", "data", 1)).unwrap();
    store.insert_volume(&disk("vol-2", "more", 1)).unwrap();
    store.insert_sandbox(&sandbox("sb-2", "b", 1)).unwrap();
    store.insert_sandbox(&sandbox("sb-1", "a", 1)).unwrap();
    store.attach_all("sb-2", &["vol-1", "vol-2"]).unwrap();
    store.attach("vol-1", "sb-1").unwrap();
    store.attach("vol-1", "sb-1").unwrap(); // idempotent
    assert_eq!(store.attached_to("vol-1").unwrap(), ["sb-1", "sb-2"]);

    assert!(matches!(
        store.delete_volume("vol-1"),
        Err(StoreError::Attached(ids)) if ids == ["sb-1", "sb-2"]
    ));
    assert!(store.get_volume("vol-1").unwrap().is_some(), "refused delete removed nothing");

    store.detach_sandbox("sb-1").unwrap();
    assert_eq!(store.attached_to("vol-1").unwrap(), ["sb-2"]);
    // Reaching a terminal phase detaches in the same transaction.
    let done = PhaseUpdate { termination_reason: Some(Reason::Sdk), ..PhaseUpdate::default() };
    assert!(store.set_phase("sb-2", &Phase::Terminated, &done).unwrap());
    assert!(store.attached_to("vol-1").unwrap().is_empty());
    assert!(store.attached_to("vol-2").unwrap().is_empty());
    assert_eq!(store.delete_volume("vol-1").unwrap(), DeleteOutcome::Deleted);
    // A finished sandbox cannot take volumes again.
    assert!(matches!(store.attach("vol-2", "sb-2"), Err(StoreError::Invalid(_))));
}

#[test]
fn whole_row_update_to_terminal_detaches() {
    let store = mem();
    store.insert_volume(&disk("vol-1", "data", 1)).unwrap();
    let mut row = sandbox("sb-1", "a", 1);
    store.insert_sandbox(&row).unwrap();
    store.attach("vol-1", "sb-1").unwrap();
    row.phase = Phase::Failed;
    row.termination_reason = Some(Reason::LaunchFailed);
    assert!(store.update_sandbox(&row).unwrap());
    assert!(store.attached_to("vol-1").unwrap().is_empty());
}

#[test]
fn attach_needs_both_records_and_is_all_or_nothing() {
    let store = mem();
    store.insert_volume(&disk("vol-1", "data", 1)).unwrap();
    store.insert_sandbox(&sandbox("sb-1", "a", 1)).unwrap();
    assert!(matches!(store.attach("vol-1", "sb-9"), Err(StoreError::NotFound)));
    assert!(matches!(store.attach_all("sb-1", &["vol-1", "vol-9"]), Err(StoreError::NotFound)));
    assert!(store.attached_to("vol-1").unwrap().is_empty());
}

#[test]
fn record_json_shapes() {
    let store = mem();
    store.insert_volume(&disk("vol-1", "data", 0)).unwrap();
    store.insert_sandbox(&sandbox("sb-1", "a", 1)).unwrap();
    store.attach("vol-1", "sb-1").unwrap();
    let record = store.volume_record("vol-1").unwrap().unwrap();
    assert_eq!(
        serde_json::to_value(&record).unwrap(),
        json!({
            "id": "vol-1", "name": "data", "type": "disk", "path": "vol-1", "phase": "ready",
            "attached_to": ["sb-1"], "created_at": "1970-01-01T00:00:00.000000Z"
        })
    );
    assert_eq!(store.volume_records().unwrap(), [record]);
    assert_eq!(store.volume_record("vol-9").unwrap(), None);

    let object = VolumeRow {
        r#type: VolumeType::Object,
        object: Some(VolumeObjectSpec::new("bucket")),
        path: String::new(),
        ..disk("vol-2", "objects", 0)
    };
    assert_eq!(
        serde_json::to_value(object.to_record(vec![])).unwrap(),
        json!({
            "id": "vol-2", "name": "objects", "type": "object", "object": {"bucket": "bucket"},
            "path": "", "phase": "ready", "attached_to": [],
            "created_at": "1970-01-01T00:00:00.000000Z"
        })
    );
}

#[test]
fn insert_with_volumes_is_all_or_nothing() {
    let store = mem();
    store.insert_volume(&disk("vol-1", "data", 1)).unwrap();
    let row = sandbox("sb-1", "a", 1);
    assert!(matches!(
        store.insert_sandbox_with_volumes(&row, &["vol-1", "vol-9"]),
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.get_sandbox("sb-1").unwrap(), None, "nothing recorded");
    assert_eq!(store.sandbox_id_by_name("a").unwrap(), None, "name still free");
    store.insert_sandbox_with_volumes(&row, &["vol-1"]).unwrap();
    assert_eq!(store.attached_to("vol-1").unwrap(), ["sb-1"]);
}
