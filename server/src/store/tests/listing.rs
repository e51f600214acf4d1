//! Listing filters, pagination, counts and filter values.

use porter_sandbox::types::{SandboxSpec, StatusResponsePhase as Phase};

use super::{mem, sandbox};
use crate::store::{PhaseUpdate, SandboxQuery, Store, StoreError};

/// Inserts a sandbox with the given image and tags, then moves it to `phase`.
fn add(
    store: &Store,
    id: &str,
    name: &str,
    at: i64,
    image: &str,
    tags: &[(&str, &str)],
    phase: Phase,
) {
    let mut row = sandbox(id, name, at);
    row.spec = SandboxSpec::new(image).tags(tags.iter().copied());
    row.image = image.to_owned();
    store.insert_sandbox(&row).unwrap();
    store.set_phase(id, &phase, &PhaseUpdate::default()).unwrap();
}

/// A store with five sandboxes, created at 10, 20, 30, 40, 50.
fn fixture() -> Store {
    let store = mem();
    add(&store, "sb-a", "web-1", 10, "nginx", &[("team", "a"), ("env", "prod")], Phase::Running);
    add(&store, "sb-b", "web-2", 20, "nginx", &[("team", "a"), ("env", "dev")], Phase::Succeeded);
    add(&store, "sb-c", "api_1", 30, "python", &[("team", "b")], Phase::Failed);
    add(&store, "sb-d", "apix1", 40, "python", &[], Phase::Queued);
    add(&store, "sb-e", "50%off", 50, "", &[("team", "a=b")], Phase::Terminated);
    store
}

fn ids(store: &Store, query: &SandboxQuery) -> Vec<String> {
    let (rows, total) = store.list_sandboxes(query, 1, 100).unwrap();
    assert_eq!(usize::try_from(total).unwrap(), rows.len());
    rows.into_iter().map(|r| r.id).collect()
}

fn tags(pairs: &[(&str, &str)]) -> SandboxQuery {
    let tags = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    SandboxQuery { tags, ..SandboxQuery::default() }
}

fn search(prefix: &str) -> SandboxQuery {
    SandboxQuery { search: Some(prefix.to_owned()), ..SandboxQuery::default() }
}

#[test]
fn lists_newest_first() {
    let store = fixture();
    assert_eq!(ids(&store, &SandboxQuery::default()), ["sb-e", "sb-d", "sb-c", "sb-b", "sb-a"]);
    // Equal creation times fall back to the id, descending.
    add(&store, "sb-z", "z", 50, "x", &[], Phase::Queued);
    assert_eq!(ids(&store, &SandboxQuery::default())[..2], ["sb-z", "sb-e"]);
}

#[test]
fn tags_are_and_ed() {
    let store = fixture();
    assert_eq!(ids(&store, &tags(&[("team", "a")])), ["sb-b", "sb-a"]);
    assert_eq!(ids(&store, &tags(&[("team", "a"), ("env", "prod")])), ["sb-a"]);
    assert!(ids(&store, &tags(&[("team", "a"), ("env", "staging")])).is_empty());
    // Values are exact: `a=b` is its own value, not key `team`=`a` plus junk.
    assert_eq!(ids(&store, &tags(&[("team", "a=b")])), ["sb-e"]);
}

#[test]
fn phases_are_or_ed() {
    let store = fixture();
    let query =
        SandboxQuery { phases: vec!["running".into(), "failed".into()], ..SandboxQuery::default() };
    assert_eq!(ids(&store, &query), ["sb-c", "sb-a"]);
    let query = SandboxQuery { phases: vec!["creating".into()], ..SandboxQuery::default() };
    assert!(ids(&store, &query).is_empty());
}

#[test]
fn search_is_a_literal_case_insensitive_name_prefix() {
    let store = fixture();
    assert_eq!(ids(&store, &search("WEB")), ["sb-b", "sb-a"]);
    assert_eq!(ids(&store, &search("web-2")), ["sb-b"]);
    assert!(ids(&store, &search("eb")).is_empty(), "a prefix, not a substring");
    assert_eq!(ids(&store, &search("api_")), ["sb-c"], "`_` is not a wildcard");
    assert_eq!(ids(&store, &search("50%")), ["sb-e"]);
    assert!(ids(&store, &search("%")).is_empty(), "`%` is not a wildcard");
    assert!(ids(&store, &search(r"\")).is_empty());
    assert_eq!(ids(&store, &search("")).len(), 5);
}

#[test]
fn image_and_time_window() {
    let store = fixture();
    let query = SandboxQuery { image: Some("python".into()), ..SandboxQuery::default() };
    assert_eq!(ids(&store, &query), ["sb-d", "sb-c"]);
    let query =
        SandboxQuery { start_time: Some(20), end_time: Some(40), ..SandboxQuery::default() };
    assert_eq!(ids(&store, &query), ["sb-c", "sb-b"], "start inclusive, end exclusive");
    let query = SandboxQuery {
        start_time: Some(15),
        image: Some("nginx".into()),
        tags: vec![("team".into(), "a".into())],
        phases: vec!["succeeded".into()],
        search: Some("web".into()),
        ..SandboxQuery::default()
    };
    assert_eq!(ids(&store, &query), ["sb-b"]);
}

#[test]
fn pagination_and_total() {
    let store = fixture();
    let page = |n| {
        let (rows, total) = store.list_sandboxes(&SandboxQuery::default(), n, 2).unwrap();
        (rows.into_iter().map(|r| r.id).collect::<Vec<_>>(), total)
    };
    assert_eq!(page(1), (vec!["sb-e".to_owned(), "sb-d".to_owned()], 5));
    assert_eq!(page(2), (vec!["sb-c".to_owned(), "sb-b".to_owned()], 5));
    assert_eq!(page(3), (vec!["sb-a".to_owned()], 5));
    assert_eq!(page(4), (vec![], 5));
    assert_eq!(page(0), page(1), "pages are 1-based; 0 reads as 1");
    let (rows, total) = store.list_sandboxes(&tags(&[("team", "a")]), 1, 1).unwrap();
    assert_eq!((rows.len(), total), (1, 2));
}

#[test]
fn counts_are_gap_free_and_oldest_first() {
    let store = fixture();
    let all = SandboxQuery::default();
    assert_eq!(store.counts(&all, 0, 60, 20).unwrap(), [(0, 1), (20, 2), (40, 2)]);
    // A partial last bucket, and buckets with nothing in them.
    assert_eq!(store.counts(&all, 5, 30, 10).unwrap(), [(5, 1), (15, 1), (25, 0)]);
    assert_eq!(store.counts(&all, 100, 130, 10).unwrap(), [(100, 0), (110, 0), (120, 0)]);
    // Filters apply.
    assert_eq!(store.counts(&tags(&[("team", "a")]), 0, 60, 30).unwrap(), [(0, 2), (30, 0)]);
    assert_eq!(store.counts(&all, 10, 10, 5).unwrap(), []);
    assert!(matches!(store.counts(&all, 0, 10, 0), Err(StoreError::Invalid(_))));
    assert!(matches!(store.counts(&all, 0, i64::MAX, 1), Err(StoreError::Invalid(_))));
}

#[test]
fn filter_values() {
    let store = fixture();
    assert_eq!(
        store.distinct_tags().unwrap(),
        ["env=dev", "env=prod", "team=a", "team=a=b", "team=b"]
    );
    assert_eq!(store.distinct_images().unwrap(), ["nginx", "python"]);
}

#[test]
fn updated_tags_are_reindexed() {
    let store = fixture();
    let mut row = store.get_sandbox("sb-d").unwrap().unwrap();
    row.spec = row.spec.tag("team", "c");
    assert!(store.update_sandbox(&row).unwrap());
    assert_eq!(ids(&store, &tags(&[("team", "c")])), ["sb-d"]);
}
