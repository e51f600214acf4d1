//! Syntax checks of references.

use std::path::PathBuf;

use crate::images::ImageStore;
use crate::images::reference::{ImageRef, parse};

#[test]
fn accepts_the_supported_forms() {
    assert_eq!(parse("host"), Ok(ImageRef::Host));
    assert_eq!(
        parse("oci-layout:/srv/img"),
        Ok(ImageRef::OciLayout { path: PathBuf::from("/srv/img"), tag: None })
    );
    assert_eq!(
        parse("oci-layout:/srv/img:v1.2"),
        Ok(ImageRef::OciLayout { path: "/srv/img".into(), tag: Some("v1.2".into()) })
    );
    // A ':' inside the path is not a tag separator.
    assert_eq!(
        parse("oci-layout:/srv/a:b/img"),
        Ok(ImageRef::OciLayout { path: "/srv/a:b/img".into(), tag: None })
    );
    assert_eq!(
        parse("oci-layout:/srv/a:b/img:latest"),
        Ok(ImageRef::OciLayout { path: "/srv/a:b/img".into(), tag: Some("latest".into()) })
    );
    assert_eq!(
        parse("docker-archive:/tmp/x:y.tar"),
        Ok(ImageRef::DockerArchive { path: "/tmp/x:y.tar".into() })
    );
}

#[test]
fn registry_references_are_syntactically_fine() {
    let digest = format!("sha256:{}", "a".repeat(64));
    for reference in [
        "python:3.12-slim".to_owned(),
        "python".to_owned(),
        "library/ubuntu:24.04".to_owned(),
        "ghcr.io/x/y:main".to_owned(),
        format!("ghcr.io/x/y@{digest}"),
        format!("localhost:5000/team/app:v1@{digest}"),
        "registry.example.com:443/a__b/c-d.e:TAG_1".to_owned(),
    ] {
        assert_eq!(ImageStore::check_reference(&reference), Ok(()), "{reference}");
        assert_eq!(parse(&reference), Ok(ImageRef::Registry(reference.clone())));
    }
}

#[test]
fn rejects_malformed_references_with_a_hint() {
    for reference in [
        "",
        "   ",
        "oci-layout:",
        "oci-layout:relative/path",
        "oci-layout:/srv/img:",
        "docker-archive:",
        "docker-archive:image.tar",
        "Python:3",
        "python:",
        "python:-bad",
        "python@sha256:1234",
        "ubuntu latest",
        "a//b",
        "UPPER.io:x/y",
        "docker://python:3",
        "oci:/srv/img",
        "-leading",
        "tag\n",
    ] {
        let err = ImageStore::check_reference(reference).unwrap_err();
        assert!(!err.is_empty(), "{reference:?}");
        // Each message explains what to write instead.
        assert!(
            err.contains("host") || err.contains("absolute") || err.contains("TAG"),
            "{reference:?}: {err}"
        );
    }
    assert!(ImageStore::check_reference("oci-layout:rel").unwrap_err().contains("absolute"));
    assert!(ImageStore::check_reference("").unwrap_err().contains("empty"));
}
