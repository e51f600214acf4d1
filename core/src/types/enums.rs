//! The 16 string enums of the wire protocol (spec/README.md §3; every value in spec/openapi.json).
//!
//! Every enum is forward compatible: a value this crate does not know (sent by a newer server) is
//! kept in `Unknown(String)` and serialized back unchanged, never rejected.

/// Defines a forward-compatible wire enum: known variants plus `Unknown(String)`.
macro_rules! wire_enum {
    (
        $(#[doc = $doc:literal])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $wire:literal ),+ $(,)?
        }
    ) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value unknown to this version of the crate, kept verbatim.
            Unknown(String),
        }

        impl $name {
            /// Every known variant, in the order the API defines them.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            /// The wire string of this value.
            #[must_use]
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $wire, )+
                    $name::Unknown(other) => other.as_str(),
                }
            }

            /// Parses a wire string; unknown strings become `Unknown`.
            #[must_use]
            pub fn from_wire(value: &str) -> Self {
                match value {
                    $( $wire => $name::$variant, )+
                    other => $name::Unknown(other.to_owned()),
                }
            }

            /// Whether this value is one this crate knows.
            #[must_use]
            pub fn is_known(&self) -> bool {
                !matches!(self, $name::Unknown(_))
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ::std::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(Self::from_wire(s))
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self::from_wire(value)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        // A string with the known values as `enum`: what this version sends and understands.
        // Clients keep values outside the list (see `Unknown`), so the list may grow.
        #[cfg(feature = "openapi")]
        impl ::schemars::JsonSchema for $name {
            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {
                ::schemars::json_schema!({
                    "type": "string",
                    "enum": [$($wire),+],
                    "description": concat!($($doc, "\n"),*).trim(),
                })
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = <::std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Ok(Self::from_wire(&value))
            }
        }
    };
}

/// Defines a sandbox-phase enum (three identical ones exist on the wire under different names).
macro_rules! phase_enum {
    ($(#[doc = $doc:literal])* $name:ident) => {
        wire_enum! {
            $(#[doc = $doc])*
            $name {
                /// Accepted, waiting for capacity.
                Queued => "queued",
                /// Runtime being prepared, container starting.
                Creating => "creating",
                /// Ready; accepts exec.
                Running => "running",
                /// The workload completed successfully.
                Succeeded => "succeeded",
                /// The workload or the runtime failed.
                Failed => "failed",
                /// Explicitly terminated, or its TTL expired.
                Terminated => "terminated",
            }
        }

        impl $name {
            /// Whether the phase is final (`succeeded`, `failed` or `terminated`).
            #[must_use]
            pub fn is_terminal(&self) -> bool {
                matches!(self, Self::Succeeded | Self::Failed | Self::Terminated)
            }

            /// The phase as the end of a sentence about a sandbox ("sandbox x has failed",
            /// "sandbox x is still creating"), for messages.
            #[must_use]
            pub fn as_state(&self) -> String {
                match self {
                    Self::Queued | Self::Creating => format!("is still {}", self.as_str()),
                    Self::Running => "is running".to_owned(),
                    Self::Succeeded => "has succeeded (ended)".to_owned(),
                    Self::Failed => "has failed (ended)".to_owned(),
                    Self::Terminated => "has been terminated".to_owned(),
                    Self::Unknown(other) => format!("is in phase {other}"),
                }
            }
        }
    };
}

phase_enum!(
    /// A phase in `FilterValuesResponse.phases`.
    FilterValuesResponsePhases
);
phase_enum!(
    /// A phase used as the `phase` query filter of list and counts.
    SandboxesPhase
);
phase_enum!(
    /// The phase of a sandbox in `StatusResponse.phase`.
    StatusResponsePhase
);

wire_enum! {
    /// Severity of a log line.
    LogLineLevel {
        /// Standard error of the workload or an exec.
        Error => "error",
        /// A warning.
        Warning => "warning",
        /// Standard output, or an informational message.
        Info => "info",
    }
}

wire_enum! {
    /// Which ingress serves a sandbox domain.
    SandboxDomainSpecVisibility {
        /// The public ingress.
        Public => "public",
        /// The private ingress.
        Private => "private",
    }
}

wire_enum! {
    /// Who terminates a sandbox (query `source` of the terminate call).
    SandboxesSource {
        /// The Porter dashboard.
        Dashboard => "dashboard",
        /// The command-line interface.
        Cli => "cli",
    }
}

wire_enum! {
    /// A metric series of a sandbox.
    SandboxMetric {
        /// CPU usage, cores.
        CpuUsage => "cpu_usage",
        /// CPU limit, cores.
        CpuReserved => "cpu_reserved",
        /// Memory usage, bytes.
        MemoryUsage => "memory_usage",
        /// Memory limit, bytes.
        MemoryReserved => "memory_reserved",
        /// Bytes received per second.
        NetworkRx => "network_rx",
        /// Bytes sent per second.
        NetworkTx => "network_tx",
    }
}

wire_enum! {
    /// What a snapshot captures.
    SnapshotMode {
        /// The sandbox's filesystem.
        Filesystem => "filesystem",
        /// Filesystem and process state.
        Full => "full",
    }
}

wire_enum! {
    /// Capture state of a snapshot.
    SnapshotStatus {
        /// Capture in progress.
        Pending => "pending",
        /// Usable as `snapshot_id`.
        Ready => "ready",
        /// Capture failed; see `failure_reason`.
        Failed => "failed",
    }
}

wire_enum! {
    /// Why a sandbox reached a terminal phase.
    StatusResponseTerminationReason {
        /// Terminated from the dashboard.
        Dashboard => "dashboard",
        /// Terminated from the CLI.
        Cli => "cli",
        /// Terminated through an SDK.
        Sdk => "sdk",
        /// `ttl_seconds` elapsed.
        TtlExpired => "ttl_expired",
        /// The workload's own process ended.
        WorkloadExited => "workload_exited",
        /// The backing runtime disappeared.
        BackendLost => "backend_lost",
        /// The sandbox could not be started.
        LaunchFailed => "launch_failed",
        /// Terminated by a user through another path.
        UserTerminated => "user_terminated",
        /// Nobody renewed its lease (`lease_seconds`) in time: the client that created it is
        /// gone. An extension of the local Porter server.
        LeaseExpired => "lease_expired",
    }
}

wire_enum! {
    /// Kind of an entry in a volume listing.
    VolumeFileEntryType {
        /// A regular file.
        File => "file",
        /// A directory.
        Directory => "directory",
    }
}

wire_enum! {
    /// Access granted to an object volume.
    VolumeObjectSpecAccess {
        /// Read and write.
        ReadWrite => "read_write",
        /// No writes at all.
        ReadOnly => "read_only",
        /// Only new objects; no overwrite, no delete.
        WriteOnlyNewFiles => "write_only_new_files",
    }
}

wire_enum! {
    /// How an object volume is mounted.
    VolumeObjectSpecMode {
        /// Object semantics: no rename, no in-place edits.
        Object => "object",
        /// Full file semantics through the bucket's file system.
        Filesystem => "filesystem",
    }
}

wire_enum! {
    /// Lifecycle phase of a volume.
    VolumePhase {
        /// Being provisioned.
        Pending => "pending",
        /// Usable.
        Ready => "ready",
        /// Provisioning failed.
        Failed => "failed",
    }
}

wire_enum! {
    /// Kind of volume requested at create.
    VolumeSpecType {
        /// Persistent file storage owned by the volume.
        Disk => "disk",
        /// A registered bucket.
        Object => "object",
    }
}

wire_enum! {
    /// Kind of an existing volume.
    VolumeType {
        /// Persistent file storage owned by the volume.
        Disk => "disk",
        /// A registered bucket.
        Object => "object",
    }
}

wire_enum! {
    /// State of a process started with `POST /v1/sandbox/{id}/processes` (extension).
    ProcessState {
        /// Still running.
        Running => "running",
        /// Ended on its own; `exit_code` holds its status.
        Exited => "exited",
        /// Ended by a signal (sent with the signal endpoint, by the sandbox ending, or by the
        /// kernel); `signal` names it when known.
        Killed => "killed",
        /// Its `timeout_seconds` ran out and the server killed its whole process tree.
        TimedOut => "timed_out",
    }
}

wire_enum! {
    /// Which stream a chunk of process output came from (a terminal has only `stdout`).
    OutputStreamName {
        /// Standard output, or the terminal of a process started with a `pty`.
        Stdout => "stdout",
        /// Standard error.
        Stderr => "stderr",
    }
}
