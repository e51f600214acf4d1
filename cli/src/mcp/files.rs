//! The file tools: paths inside a sandbox mapped onto its mounted volumes, read and written
//! through the volume files API (never through the host's filesystem).

use base64::Engine;
use indexmap::IndexMap;
use porter_sandbox::Volume;
use serde_json::{Value, json};

use super::{
    params::{ListFiles, ReadFile, WriteFile},
    shape,
    tools::{Outcome, SandboxTools},
};

/// The most bytes `read_file` reads in one call (its head and tail are shown).
const READ_CAP: u64 = 1024 * 1024;

/// Where `path` (relative to the first mount, or absolute) falls among `mounts` (mount path →
/// volume id): the volume id, the path inside the volume, and the path in the sandbox.
fn locate(
    mounts: &IndexMap<String, String>,
    path: &str,
) -> Result<(String, String, String), String> {
    let Some((first, _)) = mounts.first() else {
        return Err("this sandbox has no mounted volume, and the file tools work on volumes; \
                    use run_command (e.g. `cat FILE`) for its other files"
            .into());
    };
    let absolute = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("{}/{}", first.trim_end_matches('/'), path.trim_start_matches("./"))
    };
    let absolute = absolute.trim_end_matches('/').to_owned();
    let best = mounts
        .iter()
        .filter(|(mount, _)| {
            let mount = mount.trim_end_matches('/');
            absolute == mount || absolute.starts_with(&format!("{mount}/"))
        })
        .max_by_key(|(mount, _)| mount.len());
    let Some((mount, volume)) = best else {
        let list: Vec<&str> = mounts.keys().map(String::as_str).collect();
        return Err(format!(
            "{path} is not under a mounted volume (mounts: {}); the file tools reach only \
             volumes: use run_command for other files",
            list.join(", ")
        ));
    };
    let inner = absolute[mount.trim_end_matches('/').len()..].to_owned();
    let inner = if inner.is_empty() { "/".to_owned() } else { inner };
    let shown = if absolute.is_empty() { "/".to_owned() } else { absolute };
    Ok((volume.clone(), inner, shown))
}

/// The volume and in-volume path that `path` names in the sandbox `reference`.
async fn resolve(
    tools: &SandboxTools,
    reference: &str,
    path: &str,
) -> Result<(Volume, String, String), String> {
    let sandbox = tools.sandbox(reference).await?;
    let status =
        sandbox.refresh().await.map_err(|err| format!("could not read the sandbox: {err}"))?;
    let mounts = status.volume_mounts.unwrap_or_default();
    let (volume_id, inner, shown) = locate(&mounts, path)?;
    let porter = &tools.session.porter;
    let volume = porter
        .volumes()
        .get_by_id(&volume_id)
        .await
        .and_then(porter_sandbox::VolumeHandle::into_disk)
        .map_err(|err| format!("could not open the volume at {shown}: {err}"))?;
    Ok((volume, inner, shown))
}

/// `write_file`.
pub(super) async fn write_file(tools: &SandboxTools, input: WriteFile) -> Outcome {
    let content = match input.encoding.as_deref() {
        None | Some("text" | "utf8" | "utf-8") => input.content.into_bytes(),
        Some("base64") => base64::engine::general_purpose::STANDARD
            .decode(input.content.trim())
            .map_err(|err| format!("content is not valid base64: {err}"))?,
        Some(other) => return Err(format!("encoding {other:?} is not \"text\" or \"base64\"")),
    };
    let (volume, inner, shown) = resolve(tools, &input.sandbox, &input.path).await?;
    let size = content.len();
    volume
        .write_file(&inner, content)
        .await
        .map_err(|err| format!("could not write {shown}: {err}"))?;
    Ok(json!({"path": shown, "bytes_written": size}).to_string())
}

/// `read_file`.
pub(super) async fn read_file(tools: &SandboxTools, input: ReadFile) -> Outcome {
    let (volume, inner, shown) = resolve(tools, &input.sandbox, &input.path).await?;
    let offset = input.offset.unwrap_or(0);
    let length = input.length.unwrap_or(READ_CAP).min(READ_CAP);
    let data = volume
        .read_file(&inner, Some(offset), Some(length))
        .await
        .map_err(|err| format!("could not read {shown}: {err}"))?;
    let full = data.len() as u64 == length;
    Ok(shape::fit(|budget| {
        let mut value = json!({
            "path": shown,
            "offset": offset,
            "content": shape::stream(&data, budget),
        });
        if full && input.length.is_none() {
            value["note"] = format!(
                "only {READ_CAP} bytes were read; pass offset {} to read on",
                offset + length
            )
            .into();
        }
        value
    }))
}

/// `list_files`.
pub(super) async fn list_files(tools: &SandboxTools, input: ListFiles) -> Outcome {
    let path = input.path.unwrap_or_default();
    let (volume, inner, shown) = resolve(tools, &input.sandbox, &path).await?;
    let entries =
        volume.listdir(&inner).await.map_err(|err| format!("could not list {shown}: {err}"))?;
    let items: Vec<Value> = entries
        .iter()
        .map(|entry| {
            json!({
                "name": entry.name,
                "type": entry.kind.to_string(),
                "size_bytes": entry.size_bytes,
            })
        })
        .collect();
    Ok(shape::fit_list(
        &items,
        |kept, left_out| json!({"path": shown, "entries": kept, "left_out": left_out}),
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn paths_map_onto_the_longest_mount() {
        let mut mounts = IndexMap::new();
        mounts.insert("/workspace".to_owned(), "vol-a".to_owned());
        mounts.insert("/workspace/data".to_owned(), "vol-b".to_owned());
        let at = |p: &str| locate(&mounts, p).unwrap();
        assert_eq!(
            at("src/x.py"),
            ("vol-a".into(), "/src/x.py".into(), "/workspace/src/x.py".into())
        );
        assert_eq!(at(""), ("vol-a".into(), "/".into(), "/workspace".into()));
        assert_eq!(
            at("/workspace/data/f"),
            ("vol-b".into(), "/f".into(), "/workspace/data/f".into())
        );
        assert_eq!(at("/workspace/"), ("vol-a".into(), "/".into(), "/workspace".into()));
        assert!(locate(&mounts, "/etc/passwd").unwrap_err().contains("not under a mounted volume"));
        assert!(locate(&mounts, "/workspacex/a").is_err());
        assert!(locate(&IndexMap::new(), "a").unwrap_err().contains("no mounted volume"));
    }
}
