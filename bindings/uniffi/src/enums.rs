//! The wire enums as uniffi enums (Kotlin `enum class`es), converted to and from the core's.
//!
//! The core keeps a value it does not know in `Unknown(String)`. A Kotlin enum cannot carry the
//! text, so enums the server sends have an `Unknown` entry instead (a value from a newer
//! server); sending `Unknown` back is refused with an invalid-argument error. Enums that are
//! only ever sent have no such entry.

use porter_sandbox::types;

use crate::errors::{NativeError, invalid};

/// An enum the server sends (and that may be sent back): the known values plus `Unknown`.
macro_rules! received_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this version of the client does not know (sent by a newer server).
            Unknown,
        }

        impl From<types::$name> for $name {
            fn from(value: types::$name) -> Self {
                match value {
                    $(types::$name::$variant => Self::$variant,)+
                    _ => Self::Unknown,
                }
            }
        }

        impl TryFrom<$name> for types::$name {
            type Error = NativeError;

            fn try_from(value: $name) -> Result<Self, NativeError> {
                match value {
                    $($name::$variant => Ok(Self::$variant),)+
                    $name::Unknown => Err(invalid(concat!(
                        stringify!($name),
                        ".UNKNOWN stands for a value sent by a newer server and cannot be sent: \
                         pass one of the known values"
                    ))),
                }
            }
        }
    };
}

/// An enum that is only ever sent: exactly the known values.
macro_rules! sent_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl From<$name> for types::$name {
            fn from(value: $name) -> Self {
                match value {
                    $($name::$variant => Self::$variant,)+
                }
            }
        }
    };
}

received_enum! {
    /// The phase of a sandbox.
    StatusResponsePhase {
        /// Accepted, waiting for capacity.
        Queued,
        /// Runtime being prepared, container starting.
        Creating,
        /// Ready; accepts exec.
        Running,
        /// The workload completed successfully.
        Succeeded,
        /// The workload or the runtime failed.
        Failed,
        /// Explicitly terminated, or its TTL expired.
        Terminated,
    }
}

#[uniffi::export]
impl StatusResponsePhase {
    /// Whether the phase is final (`SUCCEEDED`, `FAILED` or `TERMINATED`).
    pub fn is_terminal(&self) -> bool {
        types::StatusResponsePhase::try_from(*self).is_ok_and(|phase| phase.is_terminal())
    }
}

sent_enum! {
    /// A phase used as a filter of the sandbox listing.
    SandboxesPhase {
        /// Accepted, waiting for capacity.
        Queued,
        /// Runtime being prepared, container starting.
        Creating,
        /// Ready; accepts exec.
        Running,
        /// The workload completed successfully.
        Succeeded,
        /// The workload or the runtime failed.
        Failed,
        /// Explicitly terminated, or its TTL expired.
        Terminated,
    }
}

received_enum! {
    /// Why a sandbox reached a terminal phase.
    StatusResponseTerminationReason {
        /// Terminated from the dashboard.
        Dashboard,
        /// Terminated from the CLI.
        Cli,
        /// Terminated through an SDK.
        Sdk,
        /// `ttlSeconds` elapsed.
        TtlExpired,
        /// The workload's own process ended.
        WorkloadExited,
        /// The backing runtime disappeared.
        BackendLost,
        /// The sandbox could not be started.
        LaunchFailed,
        /// Terminated by a user through another path.
        UserTerminated,
        /// Nobody renewed the sandbox's lease in time (an extension of the local server).
        LeaseExpired,
    }
}

sent_enum! {
    /// Who terminates a sandbox.
    SandboxesSource {
        /// The Porter dashboard.
        Dashboard,
        /// The command-line interface.
        Cli,
    }
}

received_enum! {
    /// Severity of a log line.
    LogLineLevel {
        /// Standard error of the workload or an exec.
        Error,
        /// A warning.
        Warning,
        /// Standard output, or an informational message.
        Info,
    }
}

sent_enum! {
    /// Which ingress serves a sandbox domain.
    SandboxDomainSpecVisibility {
        /// The public ingress.
        Public,
        /// The private ingress.
        Private,
    }
}

received_enum! {
    /// What a snapshot captures.
    SnapshotMode {
        /// The sandbox's filesystem.
        Filesystem,
        /// Filesystem and process state.
        Full,
    }
}

received_enum! {
    /// Capture state of a snapshot.
    SnapshotStatus {
        /// Capture in progress.
        Pending,
        /// Usable as `snapshotId`.
        Ready,
        /// Capture failed; see `failureReason`.
        Failed,
    }
}

received_enum! {
    /// Kind of an entry in a volume listing.
    VolumeFileEntryType {
        /// A regular file.
        File,
        /// A directory.
        Directory,
    }
}

received_enum! {
    /// Access granted to an object volume.
    VolumeObjectSpecAccess {
        /// Read and write.
        ReadWrite,
        /// No writes at all.
        ReadOnly,
        /// Only new objects; no overwrite, no delete.
        WriteOnlyNewFiles,
    }
}

received_enum! {
    /// How an object volume is mounted.
    VolumeObjectSpecMode {
        /// Object semantics: no rename, no in-place edits.
        Object,
        /// Full file semantics through the bucket's file system.
        Filesystem,
    }
}

received_enum! {
    /// Lifecycle phase of a volume.
    VolumePhase {
        /// Being provisioned.
        Pending,
        /// Usable.
        Ready,
        /// Provisioning failed.
        Failed,
    }
}

sent_enum! {
    /// Kind of volume requested at create.
    VolumeSpecType {
        /// Persistent file storage owned by the volume.
        Disk,
        /// A registered bucket.
        Object,
    }
}

received_enum! {
    /// Kind of an existing volume.
    VolumeType {
        /// Persistent file storage owned by the volume.
        Disk,
        /// A registered bucket.
        Object,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_round_trip_and_unknown_is_kept_out() {
        for core in types::StatusResponsePhase::KNOWN {
            let mine = StatusResponsePhase::from(core.clone());
            assert_ne!(mine, StatusResponsePhase::Unknown, "{core}");
            assert_eq!(&types::StatusResponsePhase::try_from(mine).ok(), &Some(core.clone()));
        }
        let newer = types::StatusResponsePhase::from_wire("hibernating");
        assert_eq!(StatusResponsePhase::from(newer), StatusResponsePhase::Unknown);
        let error = types::SnapshotMode::try_from(SnapshotMode::Unknown).unwrap_err();
        assert!(error.to_string().contains("SnapshotMode.UNKNOWN"), "{error}");
        assert_eq!(types::SandboxesSource::from(SandboxesSource::Cli).as_str(), "cli");
        assert_eq!(
            types::StatusResponseTerminationReason::try_from(
                StatusResponseTerminationReason::TtlExpired
            )
            .ok()
            .map(|r| r.as_str().to_owned()),
            Some("ttl_expired".to_owned())
        );
    }
}

received_enum! {
    /// The state of a process (an extension of the local server).
    ProcessState {
        /// Still running.
        Running,
        /// Ended on its own; `exitCode` holds its status.
        Exited,
        /// Ended by a signal; `signal` names it when known.
        Killed,
        /// Its deadline passed and the server killed its whole process tree (exit code 124).
        TimedOut,
    }
}

received_enum! {
    /// Which stream a piece of a process's output came from.
    OutputStreamName {
        /// Standard output, or the terminal of a process started with a pty.
        Stdout,
        /// Standard error.
        Stderr,
    }
}
