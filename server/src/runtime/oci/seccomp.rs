//! The seccomp profile of sandbox processes: a deny-list whose main job is blocking nested user
//! namespaces (with them, an unprivileged process could gain CAP_SYS_ADMIN over a new mount
//! namespace), the kernel-wide syscalls (mount, kexec, modules, bpf, ptrace, keyrings,
//! io_uring...), and socket address families a workload does not need (see [`profile`]).

use serde_json::{Value, json};

/// Syscalls that fail with `EPERM` inside sandboxes.
const DENIED_SYSCALLS: &[&str] = &[
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "pidfd_getfd",
    "kexec_load",
    "kexec_file_load",
    "reboot",
    "init_module",
    "finit_module",
    "delete_module",
    "create_module",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "add_key",
    "request_key",
    "keyctl",
    "unshare",
    "setns",
    "swapon",
    "swapoff",
    "acct",
    "quotactl",
    "quotactl_fd",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "open_by_handle_at",
    "name_to_handle_at",
    "lookup_dcookie",
    "iopl",
    "ioperm",
    "syslog",
    "vhangup",
    "nfsservctl",
    "uselib",
    "_sysctl",
    "sethostname",
    "setdomainname",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "fanotify_init",
    "vm86",
    "vm86old",
    "get_kernel_syms",
    "query_module",
];

/// `CLONE_NEWUSER`: `clone` with this flag is refused (nested user namespaces).
const CLONE_NEWUSER: u64 = 0x1000_0000;

/// Address families a workload may create sockets of: `AF_UNIX`, `AF_INET`, `AF_INET6`,
/// `AF_NETLINK` (`ip addr`, glibc's `getaddrinfo` use it).
pub(super) const ALLOWED_FAMILIES: [u64; 4] = [1, 2, 10, 16];
/// One past the highest address family this filter knows (`AF_MCTP` = 45, Linux 6.x). Every
/// family from here up is refused too, which also catches values with high bits set (the kernel
/// truncates the `int` family to 32 bits, the filter compares all 64).
const FAMILY_LIMIT: u64 = 46;
/// `EAFNOSUPPORT`: what `socket()` of a refused family returns (as for a kernel without it).
const EAFNOSUPPORT: u32 = 97;

/// The seccomp profile: allow by default, deny the list above. `clone3` gets `ENOSYS` so that
/// libc falls back to `clone`, whose flags (unlike `clone3`'s struct) a filter can inspect.
///
/// `socket()` is refused with `EAFNOSUPPORT` for every address family but
/// [`ALLOWED_FAMILIES`]: `AF_VSOCK` (host and hypervisor services, VM-wide ports), `AF_PACKET`
/// (raw frames), `AF_KEY` (IPsec keys), `AF_ALG` (kernel crypto, a frequent source of kernel
/// bugs), `AF_BLUETOOTH`, `AF_CAN`, `AF_TIPC`, `AF_RDS`, `AF_XDP`… none of which a sandbox needs.
pub(super) fn profile() -> Value {
    let eperm = 1;
    let enosys = 38;
    let mut rules = vec![
        json!({ "action": "SCMP_ACT_ERRNO", "errnoRet": eperm, "names": DENIED_SYSCALLS }),
        json!({ "action": "SCMP_ACT_ERRNO", "errnoRet": enosys, "names": ["clone3"] }),
        json!({
            "action": "SCMP_ACT_ERRNO", "errnoRet": eperm, "names": ["clone"],
            "args": [{ "index": 0, "value": CLONE_NEWUSER, "valueTwo": CLONE_NEWUSER,
                       "op": "SCMP_CMP_MASKED_EQ" }],
        }),
        json!({
            "action": "SCMP_ACT_ERRNO", "errnoRet": EAFNOSUPPORT, "names": ["socket"],
            "args": [{ "index": 0, "value": FAMILY_LIMIT, "op": "SCMP_CMP_GE" }],
        }),
    ];
    // One rule per refused family: rules are OR-ed, the comparisons of one rule AND-ed.
    for family in (0..FAMILY_LIMIT).filter(|f| !ALLOWED_FAMILIES.contains(f)) {
        rules.push(json!({
            "action": "SCMP_ACT_ERRNO", "errnoRet": EAFNOSUPPORT, "names": ["socket"],
            "args": [{ "index": 0, "value": family, "op": "SCMP_CMP_EQ" }],
        }));
    }
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": rules,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The families a socket() rule refuses.
    fn refused(profile: &Value) -> Vec<u64> {
        let rules = profile["syscalls"].as_array().unwrap();
        rules
            .iter()
            .filter(|r| r["names"][0] == "socket" && r["args"][0]["op"] == "SCMP_CMP_EQ")
            .map(|r| r["args"][0]["value"].as_u64().unwrap())
            .collect()
    }

    #[test]
    fn only_the_needed_socket_families_are_allowed() {
        let p = profile();
        let refused = refused(&p);
        for family in [40, 17, 31, 15, 38, 29, 44] {
            assert!(refused.contains(&family), "family {family} is allowed");
        }
        for family in ALLOWED_FAMILIES {
            assert!(!refused.contains(&family), "family {family} is refused");
        }
        let above = p["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["args"][0]["op"] == "SCMP_CMP_GE")
            .unwrap();
        assert_eq!(above["args"][0]["value"], FAMILY_LIMIT);
        assert_eq!(above["errnoRet"], EAFNOSUPPORT);
    }
}
