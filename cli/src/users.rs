//! `--runas`: the user and group to run as, resolved to the numbers the process
//! switches to after set-up (passt-reference §1.2, §9.1).
//!
//! Names are looked up in `/etc/passwd` and `/etc/group` (there is no libc here, so
//! no NSS: local accounts only), read at start while the file system is still there.
//! As in passt: a numeric user alone also names the group (`1000` is `1000:1000`); a
//! login takes its primary group unless one is given; a login whose UID is 0 is
//! refused (`0` by number is allowed); numbers may be written as C does them (`0x3e8`,
//! `01750`). Without `--runas`, root in the initial user namespace becomes `nobody`
//! (with a warning); anybody else stays who they are.

use crate::values::{Id, RunAs};
use passt_shim_linux::isolation::RunAs as Ids;

/// The local account databases.
#[derive(Debug, Clone, Default)]
pub struct Accounts {
    /// The text of `/etc/passwd`.
    pub passwd: String,
    /// The text of `/etc/group`.
    pub group: String,
}

impl Accounts {
    /// Read `/etc/passwd` and `/etc/group` (a missing file holds no accounts).
    pub fn read() -> Accounts {
        Accounts {
            passwd: std::fs::read_to_string("/etc/passwd").unwrap_or_default(),
            group: std::fs::read_to_string("/etc/group").unwrap_or_default(),
        }
    }

    /// The UID and primary GID of login `name`.
    pub fn user(&self, name: &str) -> Option<(u32, u32)> {
        self.passwd.lines().find_map(|line| {
            let mut f = line.split(':');
            if f.next()? != name {
                return None;
            }
            let _password = f.next()?;
            Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
        })
    }

    /// The GID of group `name`.
    pub fn group(&self, name: &str) -> Option<u32> {
        self.group.lines().find_map(|line| {
            let mut f = line.split(':');
            if f.next()? != name {
                return None;
            }
            let _password = f.next()?;
            f.next()?.parse().ok()
        })
    }
}

/// Who the process is when it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Current {
    /// Effective UID.
    pub uid: u32,
    /// Effective GID.
    pub gid: u32,
    /// Whether we are in the initial user namespace.
    pub init_userns: bool,
}

impl Current {
    /// This process.
    pub fn get() -> Current {
        Current {
            uid: rustix::process::geteuid().as_raw(),
            gid: rustix::process::getegid().as_raw(),
            init_userns: in_initial_userns(
                &std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default(),
            ),
        }
    }
}

/// Whether `uid_map` (the text of `/proc/self/uid_map`) is the initial user
/// namespace's: all 2^32 - 1 IDs mapped onto themselves.
pub fn in_initial_userns(uid_map: &str) -> bool {
    let fields: Vec<&str> = uid_map.split_whitespace().collect();
    fields == ["0", "0", "4294967295"]
}

/// UID and GID of `nobody`, when the account database has none.
const OVERFLOW_ID: u32 = 65534;

/// What to switch to: `Ok(None)` to stay as we are, or the IDs; `warn` receives the
/// warning printed when root is turned into `nobody`. Only root may switch; anybody
/// else may only name themselves. Errors are one line.
pub fn resolve(
    runas: Option<&RunAs>,
    accounts: &Accounts,
    current: Current,
    warn: impl FnOnce(&str),
) -> Result<Option<Ids>, String> {
    let Some(r) = runas else {
        if current.uid != 0 || !current.init_userns {
            return Ok(None);
        }
        warn("Started as root, will change to nobody.");
        let (uid, gid) = accounts
            .user("nobody")
            .unwrap_or((OVERFLOW_ID, OVERFLOW_ID));
        return Ok(Some(Ids { uid, gid }));
    };
    let invalid = || format!("Invalid --runas option: {}", text(r));
    let (uid, mut gid) = match &r.user {
        Id::Num(n) => (*n, *n),
        Id::Name(name) => match accounts.user(name) {
            Some((uid, gid)) if uid != 0 => (uid, gid),
            _ => return Err(invalid()),
        },
    };
    match &r.group {
        Some(Id::Num(n)) => gid = *n,
        Some(Id::Name(name)) => gid = accounts.group(name).ok_or_else(invalid)?,
        None => {}
    }
    if current.uid != 0 {
        if (uid, gid) == (current.uid, current.gid) {
            return Ok(None); // already there
        }
        return Err(format!(
            "Can't run as {uid}:{gid}: only root may switch users (running as {}:{})",
            current.uid, current.gid
        ));
    }
    Ok(Some(Ids { uid, gid }))
}

/// `--runas` as given.
fn text(r: &RunAs) -> String {
    let id = |i: &Id| match i {
        Id::Num(n) => n.to_string(),
        Id::Name(s) => s.clone(),
    };
    match &r.group {
        Some(g) => format!("{}:{}", id(&r.user), id(g)),
        None => id(&r.user),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::runas;

    fn accounts() -> Accounts {
        Accounts {
            passwd: "root:x:0:0:root:/root:/bin/sh\n\
                     toor:x:0:0::/:/bin/sh\n\
                     nobody:x:65534:65533:nobody:/nonexistent:/usr/sbin/nologin\n\
                     alice:x:1000:1001::/home/alice:/bin/sh\n"
                .into(),
            group: "root:x:0:\nstaff:x:50:alice\nnogroup:x:65533:\n".into(),
        }
    }

    const ROOT: Current = Current {
        uid: 0,
        gid: 0,
        init_userns: true,
    };

    fn ids(uid: u32, gid: u32) -> Option<Ids> {
        Some(Ids { uid, gid })
    }

    fn go(spec: &str) -> Result<Option<Ids>, String> {
        resolve(Some(&runas(spec).unwrap()), &accounts(), ROOT, |_| {})
    }

    #[test]
    fn the_forms_passt_accepts() {
        assert_eq!(go("1000"), Ok(ids(1000, 1000)), "a number is both IDs");
        assert_eq!(go("1000:50"), Ok(ids(1000, 50)));
        assert_eq!(go("alice"), Ok(ids(1000, 1001)), "login: primary group");
        assert_eq!(go("alice:staff"), Ok(ids(1000, 50)));
        assert_eq!(go("alice:7"), Ok(ids(1000, 7)));
        assert_eq!(go("0x3e8:0x32"), Ok(ids(1000, 50)), "hexadecimal");
        assert_eq!(go("01750"), Ok(ids(1000, 1000)), "octal");
        assert_eq!(go("0"), Ok(ids(0, 0)), "root by number is allowed");
        assert_eq!(go("nobody"), Ok(ids(65534, 65533)));
    }

    #[test]
    fn unknown_names_and_root_by_name_are_refused_in_one_line() {
        for bad in ["mallory", "alice:wheel", "root", "toor"] {
            let e = go(bad).unwrap_err();
            assert_eq!(e, format!("Invalid --runas option: {bad}"));
        }
    }

    #[test]
    fn root_in_the_initial_namespace_becomes_nobody_by_default() {
        let mut warned = String::new();
        let r = resolve(None, &accounts(), ROOT, |w| warned = w.to_string());
        assert_eq!(r, Ok(ids(65534, 65533)));
        assert_eq!(warned, "Started as root, will change to nobody.");
        let no_db = resolve(None, &Accounts::default(), ROOT, |_| {});
        assert_eq!(no_db, Ok(ids(65534, 65534)), "the overflow IDs");
    }

    #[test]
    fn others_stay_who_they_are() {
        let user = Current {
            uid: 1000,
            gid: 1001,
            init_userns: true,
        };
        let ns_root = Current {
            init_userns: false,
            ..ROOT
        };
        for who in [user, ns_root] {
            assert_eq!(resolve(None, &accounts(), who, |_| panic!()), Ok(None));
        }
        let to_self = resolve(Some(&runas("alice").unwrap()), &accounts(), user, |_| {});
        assert_eq!(to_self, Ok(None), "already that user: nothing to switch");
        let other = resolve(Some(&runas("nobody").unwrap()), &accounts(), user, |_| {});
        assert!(other.unwrap_err().starts_with("Can't run as 65534:65533"));
    }

    #[test]
    fn initial_namespace_is_recognised_from_uid_map() {
        assert!(in_initial_userns("         0          0 4294967295\n"));
        assert!(!in_initial_userns("         0       1000          1\n"));
        assert!(!in_initial_userns(""));
    }
}
