//! An image whose registry cannot be reached (a typo looks the same on a machine without a
//! route): by default the sandbox fails with a reason naming the registry and the setting;
//! with `--offline-images host` it runs on the `host` image and its status says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{TEST_API_KEY, TestServer, cli::run_raw, start_server, start_server_with_defaults};

/// A registry reference on a loopback port nothing listens on: connection refused, at once.
fn unreachable_image() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    format!("127.0.0.1:{port}/library/pyhton:3.12")
}

fn cli(server: &TestServer, args: &[&str]) -> support::cli::Run {
    let mut all = vec!["--base-url", server.base_url.as_str()];
    all.extend_from_slice(args);
    run_raw(&all, &[("PORTER_SANDBOX_API_KEY", TEST_API_KEY)], None)
}

#[test]
fn by_default_an_unreachable_registry_fails_the_sandbox_saying_why() {
    let server = start_server_with_defaults(&[]);
    let image = unreachable_image();
    let run = cli(&server, &["create", &image, "--wait", "--wait-timeout", "60", "--", "true"]);
    run.code(1);
    let id = run.line().to_owned();
    assert!(run.stderr.contains("cannot reach the registry 127.0.0.1:"), "{}", run.stderr);

    let status: serde_json::Value = cli(&server, &["get", &id, "--json"]).ok().json();
    assert_eq!(status["phase"], "failed", "{status}");
    assert_eq!(status["termination_reason"], "launch_failed", "{status}");
    assert_eq!(status["image"], image.as_str());
    assert!(status.get("runs_image").is_none(), "{status}");
    let logs = cli(&server, &["logs", &id]);
    let reason = logs.stdout.lines().find(|l| l.contains("launch failed:")).unwrap_or_else(|| {
        panic!("no launch failure in the log:\n{}", logs.stdout);
    });
    for part in ["cannot reach the registry 127.0.0.1:", "--offline-images host", image.as_str()] {
        assert!(reason.contains(part), "{part:?} missing from {reason:?}");
    }
    server.stop();
}

#[test]
fn with_host_chosen_the_substitution_shows_in_the_status_and_the_cli() {
    let server = start_server(&["--offline-images", "host"]);
    let image = unreachable_image();
    let run = cli(&server, &["create", &image, "--wait", "--", "sleep", "300"]);
    run.ok();
    let id = run.line().to_owned();
    assert!(
        run.stderr.contains(&format!("runs the `host` image instead of `{image}`")),
        "create --wait says so: {}",
        run.stderr
    );

    let status: serde_json::Value = cli(&server, &["get", &id, "--json"]).ok().json();
    assert_eq!(status["phase"], "running", "{status}");
    assert_eq!(status["image"], image.as_str(), "`image` stays what was asked: {status}");
    assert_eq!(status["runs_image"], "host", "{status}");
    let human = cli(&server, &["get", &id]);
    human.ok();
    assert!(human.stdout.contains("runs `host` instead"), "{}", human.stdout);
    cli(&server, &["terminate", &id]).ok();
    server.stop();
}
