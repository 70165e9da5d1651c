//! `aqueduct-lint.toml`: which rules run, where they do not, and the options
//! some rules take.

use std::path::Path;

use serde::Deserialize;

use crate::{Error, rules};

/// The linter's settings. `Config::default()` runs every rule with the
/// defaults below; a file (`aqueduct-lint.toml`) overrides what it names:
///
/// ```toml
/// disable = ["SERVICE_SUFFIX"]          # rule ids
/// service_suffix = "Api"                # SERVICE_SUFFIX
/// enum_zero_value_suffix = "_UNKNOWN"   # ENUM_ZERO_VALUE_SUFFIX
/// allow_empty_requests = true           # google.protobuf.Empty as a request
/// allow_empty_responses = true          # ... and as a response
/// error_field_names = ["code", "error"] # RESPONSE_NO_ERROR_FIELDS
///
/// [[ignore]]
/// path = "legacy"                       # a file or directory, from the lint root
/// rules = ["FIELD_LOWER_SNAKE_CASE"]    # left out: every rule
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Rule ids that do not run.
    pub disable: Vec<String>,
    /// What every service name ends with. Default `Service`.
    pub service_suffix: String,
    /// What the zero value of every enum ends with. Default `_UNSPECIFIED`.
    pub enum_zero_value_suffix: String,
    /// `google.protobuf.Empty` may be a request (and shared by RPCs).
    pub allow_empty_requests: bool,
    /// `google.protobuf.Empty` may be a response (and shared by RPCs).
    pub allow_empty_responses: bool,
    /// Field names a response message must not have.
    pub error_field_names: Vec<String>,
    /// Files or directories some (or all) rules skip.
    pub ignore: Vec<Ignore>,
}

/// Rules that skip a file or a directory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ignore {
    /// A file or directory, relative to the lint root (`legacy`, `a/b.proto`).
    pub path: String,
    /// The rules it skips; empty: all of them.
    #[serde(default)]
    pub rules: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            disable: Vec::new(),
            service_suffix: "Service".to_owned(),
            enum_zero_value_suffix: "_UNSPECIFIED".to_owned(),
            allow_empty_requests: false,
            allow_empty_responses: false,
            error_field_names: [
                "code",
                "error",
                "errors",
                "error_code",
                "error_msg",
                "error_message",
                "err",
                "err_code",
                "err_msg",
                "status_code",
            ]
            .map(str::to_owned)
            .to_vec(),
            ignore: Vec::new(),
        }
    }
}

/// The name of the configuration file the linter looks for in a lint root.
pub const CONFIG_FILE: &str = "aqueduct-lint.toml";

impl Config {
    /// Reads a configuration file.
    ///
    /// # Errors
    ///
    /// The file cannot be read, is not valid TOML, has a key the linter does
    /// not know, or names a rule that does not exist.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| Error::new(format!("cannot read {}: {error}", path.display())))?;
        Self::parse(&text).map_err(|error| Error::new(format!("{}: {error}", path.display())))
    }

    /// Parses a configuration file's text.
    ///
    /// # Errors
    ///
    /// As [`Config::load`].
    pub fn parse(text: &str) -> Result<Self, Error> {
        let config: Self = toml::from_str(text).map_err(|error| Error::new(error.to_string()))?;
        let named = config
            .disable
            .iter()
            .chain(config.ignore.iter().flat_map(|i| i.rules.iter()));
        for id in named {
            if rules::find(id).is_none() {
                let known: Vec<&str> = rules::RULES.iter().map(|r| r.id).collect();
                return Err(Error::new(format!(
                    "no rule {id:?}; the rules are {}",
                    known.join(", ")
                )));
            }
        }
        Ok(config)
    }

    /// `root`'s `aqueduct-lint.toml` if there is one, else the defaults.
    ///
    /// # Errors
    ///
    /// As [`Config::load`], for a file that is there.
    pub fn discover(root: &Path) -> Result<Self, Error> {
        let file = root.join(CONFIG_FILE);
        if file.is_file() {
            Self::load(&file)
        } else {
            Ok(Self::default())
        }
    }

    /// Whether `rule` runs on `file` (relative to the lint root, `/`-separated).
    #[must_use]
    pub fn applies(&self, rule: &str, file: &str) -> bool {
        if self.disable.iter().any(|d| d == rule) {
            return false;
        }
        !self.ignore.iter().any(|ignore| {
            let path = ignore.path.trim_end_matches('/');
            let covers = file == path
                || file
                    .strip_prefix(path)
                    .is_some_and(|rest| rest.starts_with('/'));
            covers && (ignore.rules.is_empty() || ignore.rules.iter().any(|r| r == rule))
        })
    }
}
