//! The extension fields of `POST /v1/sandbox/{id}/exec` (`timeout_seconds`, `workdir`, `env`,
//! `stdin`): checked and turned into a runtime [`ExecSpec`]. Each error names its field.

use porter_sandbox::types::ExecRequest;
use serde_json::Value;

use super::error::{ServiceError, ServiceResult};
use super::validate::{MAX_ENV_BYTES, MAX_ENV_VARS};
use crate::runtime::ExecSpec;

/// Longest deadline an exec may ask for: 7 days (longer commands simply omit the deadline).
pub const MAX_EXEC_TIMEOUT_SECONDS: f64 = 7.0 * 24.0 * 3600.0;

/// Longest `workdir`, in bytes (Linux's `PATH_MAX`).
const MAX_WORKDIR: usize = 4096;

/// A field name, the check of its JSON type, and what it must be.
type FieldCheck<'a> = (&'a str, &'a dyn Fn(&Value) -> bool, &'a str);

/// Decodes the body of an exec request; a field of the wrong type is named in the 400.
pub fn decode_request(body: Value) -> Result<ExecRequest, ServiceError> {
    let strings = |v: &Value| v.as_array().is_some_and(|a| a.iter().all(Value::is_string));
    let string_map = |v: &Value| v.as_object().is_some_and(|m| m.values().all(Value::is_string));
    let fields: [FieldCheck<'_>; 5] = [
        ("command", &strings, "an array of strings"),
        ("timeout_seconds", &Value::is_number, "a number of seconds"),
        ("workdir", &Value::is_string, "a string (an absolute path)"),
        ("env", &string_map, "an object of string values"),
        ("stdin", &Value::is_string, "a string (UTF-8 text)"),
    ];
    for (name, valid, what) in fields {
        match body.get(name) {
            Some(value) if !value.is_null() && !valid(value) => {
                return Err(ServiceError::invalid(format!("{name} must be {what}")));
            }
            _ => {}
        }
    }
    serde_json::from_value(body).map_err(|e| {
        ServiceError::invalid(format!("the request body is not valid for this endpoint: {e}"))
    })
}

/// Checks an argv: a program, no NUL bytes.
pub(super) fn check_command(command: &[String]) -> Result<(), ServiceError> {
    if command.first().is_none_or(String::is_empty) {
        return Err(ServiceError::invalid(
            "command is empty: give the program and its arguments, e.g. [\"ls\", \"-l\"]",
        ));
    }
    if command.iter().any(|a| a.contains('\0')) {
        return Err(ServiceError::invalid("command arguments must not contain NUL bytes"));
    }
    Ok(())
}

/// Checks `request` and builds what the runtime runs: `sandbox_env` first, the request's `env`
/// merged over it.
pub(super) fn exec_spec(
    request: ExecRequest,
    sandbox_env: Vec<(String, String)>,
) -> Result<ExecSpec, ServiceError> {
    let ExecRequest { command, timeout_seconds, workdir, env, stdin } = request;
    let timeout = timeout_seconds.map(timeout).transpose()?;
    if let Some(dir) = &workdir {
        check_workdir(dir)?;
    }
    let extra: Vec<(String, String)> = env.into_iter().flatten().collect();
    check_env(&extra)?;
    let mut merged = sandbox_env;
    merged.extend(extra);
    Ok(ExecSpec {
        argv: command,
        env: merged,
        workdir,
        stdin: stdin.map(String::into_bytes),
        timeout,
    })
}

fn timeout(seconds: f64) -> ServiceResult<std::time::Duration> {
    if !(seconds.is_finite() && seconds > 0.0 && seconds <= MAX_EXEC_TIMEOUT_SECONDS) {
        return Err(ServiceError::invalid(format!(
            "timeout_seconds is {seconds}: give a number of seconds greater than 0 and at most \
             {MAX_EXEC_TIMEOUT_SECONDS} (7 days), or omit it to wait as long as the command runs"
        )));
    }
    std::time::Duration::try_from_secs_f64(seconds)
        .map_err(|e| ServiceError::invalid(format!("timeout_seconds is {seconds}: {e}")))
}

fn check_workdir(dir: &str) -> ServiceResult<()> {
    if !dir.starts_with('/') || dir.len() > MAX_WORKDIR || dir.chars().any(char::is_control) {
        let shown: String = dir.chars().take(80).collect();
        return Err(ServiceError::invalid(format!(
            "workdir {shown:?} must be an absolute path in the sandbox (starting with '/'), at \
             most {MAX_WORKDIR} bytes, without control characters"
        )));
    }
    Ok(())
}

fn check_env(env: &[(String, String)]) -> ServiceResult<()> {
    if env.len() > MAX_ENV_VARS {
        return Err(ServiceError::invalid(format!(
            "env has {} variables: at most {MAX_ENV_VARS}",
            env.len()
        )));
    }
    for (key, value) in env {
        if key.is_empty() || key.contains('=') || key.contains('\0') || value.contains('\0') {
            let shown: String = key.chars().take(80).collect();
            return Err(ServiceError::invalid(format!(
                "env variable {shown:?} is invalid: names are non-empty without '=' or NUL, \
                 values without NUL"
            )));
        }
    }
    let bytes: usize = env.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    if bytes > MAX_ENV_BYTES {
        return Err(ServiceError::invalid(format!(
            "env is {bytes} bytes: at most {MAX_ENV_BYTES} (pass large data as stdin or a file)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> ExecRequest {
        ExecRequest::new(["true"])
    }

    #[test]
    fn each_bad_field_is_named() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, MAX_EXEC_TIMEOUT_SECONDS * 2.0] {
            let err = exec_spec(ExecRequest { timeout_seconds: Some(bad), ..request() }, vec![])
                .unwrap_err();
            assert!(err.to_string().contains("timeout_seconds"), "{err}");
        }
        for bad in ["tmp", "", "/a\0b"] {
            let req = ExecRequest { workdir: Some(bad.to_owned()), ..request() };
            assert!(exec_spec(req, vec![]).unwrap_err().to_string().contains("workdir"));
        }
        for (k, v) in [("", "x"), ("A=B", "x"), ("A", "x\0y")] {
            let env = Some([(k.to_owned(), v.to_owned())].into_iter().collect());
            let err = exec_spec(ExecRequest { env, ..request() }, vec![]).unwrap_err();
            assert!(err.to_string().contains("env"), "{err}");
        }
    }

    #[test]
    fn request_env_comes_after_the_sandbox_env() {
        let env = Some([("A".to_owned(), "exec".to_owned())].into_iter().collect());
        let req =
            ExecRequest { env, timeout_seconds: Some(0.5), stdin: Some("in".into()), ..request() };
        let spec = exec_spec(req, vec![("A".into(), "sandbox".into())]).unwrap();
        assert_eq!(spec.env, [("A".into(), "sandbox".into()), ("A".into(), "exec".into())]);
        assert_eq!(spec.timeout, Some(std::time::Duration::from_millis(500)));
        assert_eq!(spec.stdin.as_deref(), Some(&b"in"[..]));
    }
}
