//! Configuration resolution: which API key, base URL and timeout a client uses.
//!
//! Resolution follows the official SDKs (Python behaviour where they differ):
//!
//! 1. **API key** — the explicit key, else `PORTER_SANDBOX_API_KEY`, else none.
//! 2. **Base URL** — the first of:
//!    1. the explicit base URL, else `PORTER_SANDBOX_BASE_URL`;
//!    2. when `PORTER_CLUSTER_ID` is set: the Porter API gateway URL of that cluster, with the
//!       project id read from the API key (which is then required, see [`project_id_from_token`]);
//!    3. when `KUBERNETES_SERVICE_HOST` is set: the in-cluster URL [`IN_CLUSTER_BASE_URL`];
//!    4. a local server's discovery file ([`crate::discovery`]), written by
//!       `porter-sandbox serve`: its URL, and its key when no key was given;
//!    5. otherwise an error that says what to set.
//!
//!    With a base URL from step 1 and no key, the discovery file's key is used only when the URL
//!    addresses that local server (the same URL, or a loopback URL on its port), so a local key
//!    is never sent anywhere else.
//! 3. All trailing `/` are stripped from the chosen URL.
//! 4. **Timeout** — the explicit value, else [`DEFAULT_TIMEOUT`].
//!
//! An empty string counts as unset at every step, so an explicit empty value falls back to the
//! environment variable.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Base URL of the sandbox API when running inside a Porter cluster with sandboxes enabled.
pub const IN_CLUSTER_BASE_URL: &str =
    "http://sandbox-api.porter-sandbox-system.svc.cluster.local:8080";

/// Base URL of the sandbox API reached from outside the cluster through the Porter API.
///
/// `{project_id}` is replaced by the API token's `project_id` claim and `{cluster_id}` by the
/// value of `PORTER_CLUSTER_ID`, verbatim.
pub const EXTERNAL_BASE_URL_FORMAT: &str =
    "https://dashboard.porter.run/api/v2/alpha/projects/{project_id}/clusters/{cluster_id}";

/// Request timeout used when none is given: 30 seconds.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Environment variable holding the API key (a Porter API token).
pub const ENV_API_KEY: &str = "PORTER_SANDBOX_API_KEY";

/// Environment variable holding the sandbox API base URL.
pub const ENV_BASE_URL: &str = "PORTER_SANDBOX_BASE_URL";

/// Environment variable holding the id of the Porter cluster where sandboxes are enabled.
pub const ENV_CLUSTER_ID: &str = "PORTER_CLUSTER_ID";

/// Environment variable whose presence means the process runs inside a Kubernetes cluster.
pub const ENV_KUBERNETES_SERVICE_HOST: &str = "KUBERNETES_SERVICE_HOST";

const REDACTED: &str = "<redacted>";

/// Why configuration could not be resolved. Messages are complete sentences that say what to set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    message: String,
}

impl ConfigError {
    fn new(message: String) -> Self {
        Self { message }
    }

    /// The human-readable explanation, including what to set to fix it.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// How error messages name the explicit options, to match the caller's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ArgNames {
    /// `api_key` / `base_url` (Python, Rust).
    #[default]
    Snake,
    /// `apiKey` / `baseUrl` (Node).
    Camel,
}

impl ArgNames {
    fn api_key(self) -> &'static str {
        match self {
            Self::Snake => "api_key",
            Self::Camel => "apiKey",
        }
    }

    fn base_url(self) -> &'static str {
        match self {
            Self::Snake => "base_url",
            Self::Camel => "baseUrl",
        }
    }
}

/// Explicit settings given by the caller; anything left unset is taken from the environment.
#[derive(Default, Clone)]
pub struct ConfigOptions {
    /// API key (a Porter API token). `None` or empty: use `PORTER_SANDBOX_API_KEY`.
    pub api_key: Option<String>,
    /// Base URL of the sandbox API. `None` or empty: use `PORTER_SANDBOX_BASE_URL`, then the
    /// cluster id / in-cluster detection.
    pub base_url: Option<String>,
    /// Default request timeout. `None`: [`DEFAULT_TIMEOUT`].
    pub timeout: Option<Duration>,
    /// How error messages name `api_key` / `base_url`.
    pub arg_names: ArgNames,
}

impl fmt::Debug for ConfigOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigOptions")
            .field("api_key", &self.api_key.as_ref().map(|_| REDACTED))
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .field("arg_names", &self.arg_names)
            .finish()
    }
}

/// Resolved client configuration.
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// API key sent as a bearer token, if any. Never empty.
    pub api_key: Option<String>,
    /// Base URL of the sandbox API, without trailing `/`.
    pub base_url: String,
    /// Default request timeout.
    pub timeout: Duration,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("api_key", &self.api_key.as_ref().map(|_| REDACTED))
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Config {
    /// Resolves the configuration from `options` and the process environment.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] when no base URL can be determined, when `PORTER_CLUSTER_ID` is set
    /// without an API key, or when the API key is not a Porter API token while it is needed to
    /// build the gateway URL.
    pub fn resolve(options: ConfigOptions) -> Result<Config, ConfigError> {
        Self::resolve_with_env(options, |name| std::env::var(name).ok())
    }

    /// Resolves the configuration from `options` and the environment given by `env`, which
    /// returns the value of an environment variable by name (`None` when unset).
    ///
    /// # Errors
    ///
    /// The same as [`Config::resolve`].
    pub fn resolve_with_env(
        options: ConfigOptions,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let env_var = |name: &str| non_empty(env(name));
        let names = options.arg_names;

        let mut api_key = non_empty(options.api_key).or_else(|| env_var(ENV_API_KEY));
        let discovered = || {
            crate::discovery::path_with_env(&env)
                .and_then(|path| crate::discovery::LocalServer::read(&path))
        };

        let base_url = if let Some(url) =
            non_empty(options.base_url).or_else(|| env_var(ENV_BASE_URL))
        {
            // A local server's own key goes only to that server.
            if api_key.is_none() {
                api_key = discovered().filter(|s| s.serves(&url)).and_then(|s| s.api_key);
            }
            url
        } else if let Some(cluster_id) = env_var(ENV_CLUSTER_ID) {
            let Some(key) = api_key.as_deref() else {
                return Err(ConfigError::new(format!(
                    "{ENV_CLUSTER_ID} is set, so the client calls the Porter API from outside the cluster, \
                     and that requires an API token. Set {ENV_API_KEY} or the `{}` option to a Porter API \
                     token; tokens are created under Settings > API tokens in the Porter Dashboard (admin \
                     permissions are required).",
                    names.api_key()
                )));
            };
            let project_id = project_id_from_token_named(key, names)?;
            EXTERNAL_BASE_URL_FORMAT
                .replace("{project_id}", &project_id.to_string())
                .replace("{cluster_id}", &cluster_id)
        } else if env_var(ENV_KUBERNETES_SERVICE_HOST).is_some() {
            IN_CLUSTER_BASE_URL.to_owned()
        } else if let Some(local) = discovered() {
            if api_key.is_none() {
                api_key = local.api_key;
            }
            local.url
        } else if api_key.is_some() {
            return Err(ConfigError::new(format!(
                "An API key is set but {ENV_CLUSTER_ID} is not. Outside the cluster the client reaches \
                 sandboxes through the Porter API, which needs to know the cluster: set {ENV_CLUSTER_ID} to \
                 the id of the cluster where sandboxes are enabled, or set {ENV_BASE_URL} (or the `{}` \
                 option) to the sandbox API's address.",
                names.base_url()
            )));
        } else {
            return Err(ConfigError::new(format!(
                "Could not determine the sandbox API base URL. Run inside a Porter cluster with sandboxes \
                 enabled, set {ENV_CLUSTER_ID} and {ENV_API_KEY} to reach a cluster through the Porter API, \
                 or set {ENV_BASE_URL} (or the `{}` option) to the sandbox API's address. For local \
                 development, `porter-sandbox serve` starts a local server that clients of the same user \
                 find on their own (or point {ENV_BASE_URL} and {ENV_API_KEY} at it).",
                names.base_url()
            )));
        };

        Ok(Config {
            api_key,
            base_url: base_url.trim_end_matches('/').to_owned(),
            timeout: options.timeout.unwrap_or(DEFAULT_TIMEOUT),
        })
    }
}

/// Reads the positive integer `project_id` claim of a Porter API token (a JWT).
///
/// The signature is not verified. The token must have exactly three `.`-separated segments; the
/// middle one is base64url (with or without padding) of a JSON object whose `project_id` is a
/// JSON integer greater than zero. Other claims are ignored.
///
/// # Errors
///
/// A [`ConfigError`] mentioning the `project_id` claim when the token does not have that shape.
pub fn project_id_from_token(token: &str) -> Result<i64, ConfigError> {
    project_id_from_token_named(token, ArgNames::default())
}

fn project_id_from_token_named(token: &str, names: ArgNames) -> Result<i64, ConfigError> {
    parse_project_id(token).map_err(|reason| {
        ConfigError::new(format!(
            "{ENV_API_KEY} does not look like a Porter API token: a JWT with a project_id claim was \
             expected, but {reason}. Create a token under Settings > API tokens in the Porter Dashboard \
             and set {ENV_API_KEY} (or the `{}` option) to it.",
            names.api_key()
        ))
    })
}

/// Lenient base64url: padding optional, non-canonical trailing bits tolerated.
const BASE64URL_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Returns the claim, or the reason (a clause, never containing the token) why it is missing.
fn parse_project_id(token: &str) -> Result<i64, &'static str> {
    let segments: Vec<&str> = token.split('.').collect();
    let [_, payload, _] = segments.as_slice() else {
        return Err("the key does not have three dot-separated segments");
    };
    let bytes = BASE64URL_LENIENT
        .decode(payload.trim_end_matches('='))
        .map_err(|_| "the key's middle segment is not valid base64url")?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|_| "the key's middle segment does not decode to JSON")?;
    let serde_json::Value::Object(claims) = claims else {
        return Err("the key's claims are not a JSON object");
    };
    match claims.get("project_id") {
        None => Err("the claim is missing"),
        Some(serde_json::Value::Number(n)) => match n.as_i64() {
            Some(id) if id > 0 => Ok(id),
            _ => Err("its project_id is not a positive integer"),
        },
        Some(_) => Err("its project_id is not a JSON integer"),
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};

    const EXTERNAL_1_651: &str =
        "https://dashboard.porter.run/api/v2/alpha/projects/1/clusters/651";
    const EXTERNAL_123_456: &str =
        "https://dashboard.porter.run/api/v2/alpha/projects/123/clusters/456";

    fn token(payload: &str) -> String {
        format!("header.{}.signature", URL_SAFE_NO_PAD.encode(payload))
    }

    fn porter_token() -> String {
        token(r#"{"iat":"1783537707","project_id":1,"sub":"x","sub_kind":"y","token_id":"z"}"#)
    }

    fn token_123() -> String {
        token(r#"{"project_id":123}"#)
    }

    /// What a case expects: a base URL, or an error containing a fragment.
    enum Expect {
        Url(&'static str),
        Err(&'static str),
    }

    struct Case {
        name: &'static str,
        api_key: Option<String>,
        base_url: Option<&'static str>,
        env: Vec<(&'static str, String)>,
        expect: Expect,
    }

    fn case(name: &'static str, expect: Expect) -> Case {
        Case { name, api_key: None, base_url: None, env: Vec::new(), expect }
    }

    impl Case {
        fn key(mut self, key: impl Into<String>) -> Self {
            self.api_key = Some(key.into());
            self
        }
        fn url(mut self, url: &'static str) -> Self {
            self.base_url = Some(url);
            self
        }
        fn env(mut self, name: &'static str, value: impl Into<String>) -> Self {
            self.env.push((name, value.into()));
            self
        }
    }

    fn run(options: ConfigOptions, env: &[(&str, String)]) -> Result<Config, ConfigError> {
        Config::resolve_with_env(options, |name| {
            env.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone())
        })
    }

    fn project_id_err(payload: &str) -> Case {
        case("malformed key", Expect::Err("project_id claim"))
            .env(ENV_CLUSTER_ID, "456")
            .env(ENV_API_KEY, token(payload))
    }

    #[test]
    fn resolution_table() {
        let k8s = ENV_KUBERNETES_SERVICE_HOST;
        let cases = vec![
            // spec/README.md §11
            case("1 in-cluster", Expect::Url(IN_CLUSTER_BASE_URL)).env(k8s, "10.0.0.1"),
            case("2 env base url, slash stripped", Expect::Url("https://sandbox.example"))
                .env(ENV_BASE_URL, "https://sandbox.example/"),
            case("3 explicit base url beats env", Expect::Url("https://sandbox.override"))
                .url("https://sandbox.override/")
                .env(ENV_BASE_URL, "https://sandbox.example/"),
            case("4 porter-minted token", Expect::Url(EXTERNAL_1_651))
                .env(ENV_API_KEY, porter_token())
                .env(ENV_CLUSTER_ID, "651"),
            case("5 project 123 cluster 456", Expect::Url(EXTERNAL_123_456))
                .env(ENV_API_KEY, token_123())
                .env(ENV_CLUSTER_ID, "456"),
            case("6 cluster id beats kubernetes", Expect::Url(EXTERNAL_123_456))
                .env(ENV_API_KEY, token_123())
                .env(ENV_CLUSTER_ID, "456")
                .env(k8s, "10.0.0.1"),
            case("7 env base url beats cluster id", Expect::Url("https://sandbox.example"))
                .env(ENV_BASE_URL, "https://sandbox.example")
                .env(ENV_CLUSTER_ID, "456"),
            case("8 cluster id without key", Expect::Err("PORTER_SANDBOX_API_KEY"))
                .env(ENV_CLUSTER_ID, "456"),
            case("9 cluster id + explicit key", Expect::Url(EXTERNAL_123_456))
                .key(token_123())
                .env(ENV_CLUSTER_ID, "456"),
            case("10a not-a-jwt", Expect::Err("project_id claim"))
                .env(ENV_CLUSTER_ID, "456")
                .env(ENV_API_KEY, "not-a-jwt"),
            case("10b one.two", Expect::Err("project_id claim"))
                .env(ENV_CLUSTER_ID, "456")
                .env(ENV_API_KEY, "one.two"),
            project_id_err(r#"{"sub":"x"}"#),
            project_id_err(r#"{"project_id":"123"}"#),
            project_id_err(r#"{"project_id":0}"#),
            project_id_err("[1,2,3]"),
            case("10g non-base64 payload", Expect::Err("project_id claim"))
                .env(ENV_CLUSTER_ID, "456")
                .env(ENV_API_KEY, "header.!!!not-base64!!!.signature"),
            case("11 key without cluster id", Expect::Err("PORTER_CLUSTER_ID is not"))
                .env(ENV_API_KEY, token_123()),
            case("12 key + kubernetes", Expect::Url(IN_CLUSTER_BASE_URL))
                .env(ENV_API_KEY, token_123())
                .env(k8s, "10.0.0.1"),
            case("13 nothing set", Expect::Err("Could not determine the sandbox API base URL")),
            // Further branches.
            case("padded payload", Expect::Url(EXTERNAL_123_456))
                .key(format!("header.{}.signature", URL_SAFE.encode(r#"{"project_id":123}"#)))
                .env(ENV_CLUSTER_ID, "456"),
            project_id_err(r#"{"project_id":123.0}"#),
            project_id_err(r#"{"project_id":true}"#),
            project_id_err(r#"{"project_id":-5}"#),
            project_id_err(r#"{"project_id":null}"#),
            project_id_err(r#"{"project_id":18446744073709551615}"#),
            project_id_err("not json"),
            case("four segments", Expect::Err("project_id claim"))
                .env(ENV_CLUSTER_ID, "456")
                .env(ENV_API_KEY, format!("{}.extra", token_123())),
            case(
                "explicit empty base url falls back to env",
                Expect::Url("https://sandbox.example"),
            )
            .url("")
            .env(ENV_BASE_URL, "https://sandbox.example"),
            case("explicit empty key falls back to env", Expect::Url(EXTERNAL_123_456))
                .key("")
                .env(ENV_API_KEY, token_123())
                .env(ENV_CLUSTER_ID, "456"),
            case("all trailing slashes stripped", Expect::Url("https://x")).url("https://x///"),
            case(
                "empty env values count as unset",
                Expect::Err("Could not determine the sandbox API base URL"),
            )
            .env(ENV_BASE_URL, "")
            .env(ENV_CLUSTER_ID, "")
            .env(ENV_API_KEY, "")
            .env(k8s, ""),
            case(
                "cluster id verbatim",
                Expect::Url("https://dashboard.porter.run/api/v2/alpha/projects/123/clusters/c-7"),
            )
            .key(token_123())
            .env(ENV_CLUSTER_ID, "c-7"),
            case("non-JWT key fine with explicit url", Expect::Url("https://sandbox.example"))
                .key("plain-key")
                .url("https://sandbox.example")
                .env(ENV_CLUSTER_ID, "456"),
        ];

        for c in cases {
            let options = ConfigOptions {
                api_key: c.api_key.clone(),
                base_url: c.base_url.map(str::to_owned),
                ..ConfigOptions::default()
            };
            let result = run(options, &c.env);
            match (&c.expect, result) {
                (Expect::Url(url), Ok(config)) => {
                    assert_eq!(config.base_url, *url, "case {}", c.name);
                    assert_eq!(config.timeout, DEFAULT_TIMEOUT, "case {}", c.name);
                }
                (Expect::Err(fragment), Err(e)) => {
                    assert!(e.message().contains(fragment), "case {}: {:?}", c.name, e.message());
                    assert_eq!(e.to_string(), e.message());
                }
                (Expect::Url(_), Err(e)) => panic!("case {}: unexpected error {e}", c.name),
                (Expect::Err(_), Ok(config)) => {
                    panic!("case {}: unexpected success {config:?}", c.name)
                }
            }
        }
    }

    #[test]
    fn api_key_resolution() {
        let env = [(ENV_API_KEY, "env-key".to_owned()), (ENV_BASE_URL, "https://h".to_owned())];
        let explicit =
            run(ConfigOptions { api_key: Some("arg-key".into()), ..Default::default() }, &env)
                .unwrap();
        assert_eq!(explicit.api_key.as_deref(), Some("arg-key"));
        let from_env = run(ConfigOptions::default(), &env).unwrap();
        assert_eq!(from_env.api_key.as_deref(), Some("env-key"));
        let none =
            run(ConfigOptions::default(), &[(ENV_BASE_URL, "https://h".to_owned())]).unwrap();
        assert_eq!(none.api_key, None);
        // The key is kept (and sent) in-cluster too.
        let in_cluster = run(
            ConfigOptions::default(),
            &[(ENV_API_KEY, "k".to_owned()), (ENV_KUBERNETES_SERVICE_HOST, "h".to_owned())],
        )
        .unwrap();
        assert_eq!(in_cluster.api_key.as_deref(), Some("k"));
        assert_eq!(in_cluster.base_url, IN_CLUSTER_BASE_URL);
    }

    #[test]
    fn timeouts() {
        let env = [(ENV_BASE_URL, "https://h".to_owned())];
        let default = run(ConfigOptions::default(), &env).unwrap();
        assert_eq!(default.timeout, Duration::from_secs(30));
        let explicit = run(
            ConfigOptions { timeout: Some(Duration::from_millis(1500)), ..Default::default() },
            &env,
        )
        .unwrap();
        assert_eq!(explicit.timeout, Duration::from_millis(1500));
    }

    #[test]
    fn arg_names_in_messages() {
        type Env<'a> = &'a [(&'a str, String)];
        let cases: [(Env, &str, &str); 4] = [
            (&[(ENV_CLUSTER_ID, "1".to_owned())], "`api_key`", "`apiKey`"),
            (
                &[(ENV_CLUSTER_ID, "1".to_owned()), (ENV_API_KEY, "bad".to_owned())],
                "`api_key`",
                "`apiKey`",
            ),
            (&[(ENV_API_KEY, "k".to_owned())], "`base_url`", "`baseUrl`"),
            (&[], "`base_url`", "`baseUrl`"),
        ];
        for (env, snake, camel) in cases {
            let s = run(ConfigOptions::default(), env).unwrap_err();
            assert!(s.message().contains(snake), "{}", s.message());
            assert!(!s.message().contains(camel), "{}", s.message());
            let c = run(ConfigOptions { arg_names: ArgNames::Camel, ..Default::default() }, env)
                .unwrap_err();
            assert!(c.message().contains(camel), "{}", c.message());
            assert!(!c.message().contains(snake), "{}", c.message());
        }
    }

    #[test]
    fn messages_say_what_to_do() {
        let none = run(ConfigOptions::default(), &[]).unwrap_err();
        assert!(none.message().contains("porter-sandbox serve"));
        assert!(none.message().contains(ENV_BASE_URL));
        let bad = project_id_from_token("not-a-jwt").unwrap_err();
        assert!(bad.message().contains(ENV_API_KEY));
        assert!(bad.message().contains("Settings > API tokens"));
        assert!(!bad.message().contains("not-a-jwt"), "the token is never echoed");
        let no_key =
            run(ConfigOptions::default(), &[(ENV_CLUSTER_ID, "1".to_owned())]).unwrap_err();
        assert!(no_key.message().contains("Settings > API tokens"));
    }

    #[test]
    fn project_id_from_token_direct() {
        assert_eq!(project_id_from_token(&porter_token()), Ok(1));
        assert_eq!(project_id_from_token(&token_123()), Ok(123));
        let padded = format!("h.{}.s", URL_SAFE.encode(r#"{"project_id":7}"#));
        assert!(padded.contains('='));
        assert_eq!(project_id_from_token(&padded), Ok(7));
        assert!(project_id_from_token(&token(r#"{"project_id":1.5}"#)).is_err());
        assert!(project_id_from_token("").is_err());
    }

    #[test]
    fn debug_never_shows_the_key() {
        let secret = "super-secret-token-value";
        let options = ConfigOptions { api_key: Some(secret.to_owned()), ..Default::default() };
        let shown = format!("{options:?}");
        assert!(!shown.contains(secret), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");

        let config = run(options, &[(ENV_BASE_URL, "https://h".to_owned())]).unwrap();
        assert_eq!(config.api_key.as_deref(), Some(secret));
        let shown = format!("{config:?}");
        assert!(!shown.contains(secret), "{shown}");
        assert!(shown.contains(r#"api_key: Some("<redacted>")"#), "{shown}");
        let pretty = format!("{config:#?}");
        assert!(!pretty.contains(secret) && pretty.contains("<redacted>"), "{pretty}");
        let no_key =
            run(ConfigOptions::default(), &[(ENV_BASE_URL, "https://h".to_owned())]).unwrap();
        assert!(format!("{no_key:?}").contains("api_key: None"));
    }

    #[test]
    fn a_local_server_is_discovered_last_and_its_key_goes_only_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("local-server.json");
        std::fs::write(
            &file,
            r#"{"url":"http://127.0.0.1:8123","api_key":"local-key","pid":1,"data_dir":"/d"}"#,
        )
        .unwrap();
        let discovery = (crate::discovery::ENV_DISCOVERY_FILE, file.display().to_string());

        // Nothing else configured: URL and key from the file.
        let found = run(ConfigOptions::default(), std::slice::from_ref(&discovery)).unwrap();
        assert_eq!(found.base_url, "http://127.0.0.1:8123");
        assert_eq!(found.api_key.as_deref(), Some("local-key"));

        // The URL from the environment, addressing that server by another loopback name.
        let env = [discovery.clone(), (ENV_BASE_URL, "http://localhost:8123/".to_owned())];
        assert_eq!(
            run(ConfigOptions::default(), &env).unwrap().api_key.as_deref(),
            Some("local-key")
        );

        // Another server never receives the local key.
        let env = [discovery.clone(), (ENV_BASE_URL, "https://sandbox.example".to_owned())];
        assert_eq!(run(ConfigOptions::default(), &env).unwrap().api_key, None);

        // Explicit and official settings win.
        let env = [discovery.clone(), (ENV_API_KEY, "mine".to_owned())];
        assert_eq!(run(ConfigOptions::default(), &env).unwrap().api_key.as_deref(), Some("mine"));
        let env = [discovery.clone(), (ENV_KUBERNETES_SERVICE_HOST, "10.0.0.1".to_owned())];
        assert_eq!(run(ConfigOptions::default(), &env).unwrap().base_url, IN_CLUSTER_BASE_URL);

        // A missing or foreign file is no discovery.
        std::fs::write(&file, "not json").unwrap();
        let err = run(ConfigOptions::default(), std::slice::from_ref(&discovery)).unwrap_err();
        assert!(err.message().contains("porter-sandbox serve"), "{err}");
    }
}
