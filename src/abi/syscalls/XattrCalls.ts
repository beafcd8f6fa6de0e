// Extended attributes (xattr(7)). Node's fs has no xattr calls, so files are shown with none: the
// get calls say ENODATA, the list calls return an empty list, setting one is EOPNOTSUPP (what a file
// system without xattr support says; cp -a and tar carry on) and removing one ENODATA. The file is
// still looked up, so a bad path or descriptor gets its usual error. `ls -l` asks for them.
import { Errno } from "../Errno.js";
import type { SyscallResult } from "../Kernel.js";
import { statOf } from "./FileCalls.js";
import { AT_FDCWD, type SyscallContext, type SyscallHandlers } from "./SyscallContext.js";

const AT_SYMLINK_NOFOLLOW = 0x100;

/** Looks the target up (path, following a final link or not, or a descriptor). */
function target(sys: SyscallContext, how: "path" | "lpath" | "fd"): void {
  if (how === "fd") sys.file(sys.int(0));
  else statOf(sys, AT_FDCWD, sys.path(0), how === "lpath" ? AT_SYMLINK_NOFOLLOW : 0);
  const name = sys.ulong(1);
  if (name) sys.p.space.readCString(name, 256);
}

function get(how: "path" | "lpath" | "fd"): (sys: SyscallContext) => SyscallResult {
  return (sys) => {
    target(sys, how);
    return -Errno.ENODATA;
  };
}

function list(how: "path" | "lpath" | "fd"): (sys: SyscallContext) => SyscallResult {
  return (sys) => {
    if (how === "fd") sys.file(sys.int(0));
    else statOf(sys, AT_FDCWD, sys.path(0), how === "lpath" ? AT_SYMLINK_NOFOLLOW : 0);
    return 0;
  };
}

function set(how: "path" | "lpath" | "fd"): (sys: SyscallContext) => SyscallResult {
  return (sys) => {
    target(sys, how);
    return -Errno.EOPNOTSUPP;
  };
}

/** The xattr system calls by name (dispatched by Syscalls.ts). */
export const xattrCalls: SyscallHandlers = {
  getxattr: get("path"),
  lgetxattr: get("lpath"),
  fgetxattr: get("fd"),
  listxattr: list("path"),
  llistxattr: list("lpath"),
  flistxattr: list("fd"),
  setxattr: set("path"),
  lsetxattr: set("lpath"),
  fsetxattr: set("fd"),
  removexattr: get("path"),
  lremovexattr: get("lpath"),
  fremovexattr: get("fd"),
};
