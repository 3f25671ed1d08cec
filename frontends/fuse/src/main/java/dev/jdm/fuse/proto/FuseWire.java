package dev.jdm.fuse.proto;

/**
 * The FUSE kernel protocol's numbers and struct offsets, as {@code include/uapi/linux/fuse.h}
 * defines them. Offsets are in bytes from the start of each struct; every field is little-endian
 * (the host's order), structs are padded to 8 bytes.
 */
public final class FuseWire {
  private FuseWire() {}

  /** The major protocol version spoken. */
  public static final int KERNEL_VERSION = 7;
  /** The newest minor version whose structs and flags this code knows. */
  public static final int MAX_MINOR = 39;
  /** The oldest minor version accepted: FUSE_MAX_PAGES (7.28) is needed for 1 MiB requests. */
  public static final int MIN_MINOR = 28;
  /** The root directory's node id. */
  public static final long ROOT_ID = 1;

  // ---- opcodes (enum fuse_opcode)
  /** Look a name up in a directory. */
  public static final int LOOKUP = 1;
  /** The kernel dropped references to a node; no reply. */
  public static final int FORGET = 2;
  /** Attributes of a node. */
  public static final int GETATTR = 3;
  /** Change attributes (size, mode, times...). */
  public static final int SETATTR = 4;
  /** Make a symbolic link. */
  public static final int SYMLINK = 6;
  /** Make a file node. */
  public static final int MKNOD = 8;
  /** Make a directory. */
  public static final int MKDIR = 9;
  /** Remove a file. */
  public static final int UNLINK = 10;
  /** Remove a directory. */
  public static final int RMDIR = 11;
  /** Rename. */
  public static final int RENAME = 12;
  /** Make a hard link. */
  public static final int LINK = 13;
  /** Open a file. */
  public static final int OPEN = 14;
  /** Read from an open file. */
  public static final int READ = 15;
  /** Write to an open file. */
  public static final int WRITE = 16;
  /** File system statistics. */
  public static final int STATFS = 17;
  /** Last close of an open file. */
  public static final int RELEASE = 18;
  /** fsync(2) / fdatasync(2). */
  public static final int FSYNC = 20;
  /** close(2) of one descriptor of an open file. */
  public static final int FLUSH = 25;
  /** Protocol negotiation, the first request. */
  public static final int INIT = 26;
  /** Open a directory. */
  public static final int OPENDIR = 27;
  /** Read directory entries. */
  public static final int READDIR = 28;
  /** Last close of an open directory. */
  public static final int RELEASEDIR = 29;
  /** fsync(2) on a directory. */
  public static final int FSYNCDIR = 30;
  /** Make and open a file. */
  public static final int CREATE = 35;
  /** The caller of a pending request got a signal. */
  public static final int INTERRUPT = 36;
  /** The file system is going away. */
  public static final int DESTROY = 38;
  /** FORGET for many nodes at once; no reply. */
  public static final int BATCH_FORGET = 42;
  /** fallocate(2). */
  public static final int FALLOCATE = 43;
  /** Rename with flags. */
  public static final int RENAME2 = 45;
  /** lseek(2) with SEEK_DATA or SEEK_HOLE. */
  public static final int LSEEK = 46;
  /** Make an unnamed file. */
  public static final int TMPFILE = 51;

  // ---- notification codes (enum fuse_notify_code), sent with unique id 0
  /** Drop cached attributes (and data) of a node. */
  public static final int NOTIFY_INVAL_INODE = 2;
  /** Drop a cached name. */
  public static final int NOTIFY_INVAL_ENTRY = 3;
  /** A name was deleted. */
  public static final int NOTIFY_DELETE = 6;

  // ---- INIT flags (fuse_init_in/out.flags, bits 32..63 in flags2 with INIT_EXT)
  /** Reads of one file may be in flight together. */
  public static final long ASYNC_READ = 1L;
  /** OPEN carries O_TRUNC for the server to handle. */
  public static final long ATOMIC_O_TRUNC = 1L << 3;
  /** Writes larger than a page. */
  public static final long BIG_WRITES = 1L << 5;
  /** Direct I/O may be split into several requests in flight at once. */
  public static final long ASYNC_DIO = 1L << 15;
  /** Lookups and readdir of one directory may run in parallel. */
  public static final long PARALLEL_DIROPS = 1L << 18;
  /** init_out.max_pages is honoured. */
  public static final long MAX_PAGES = 1L << 22;
  /** The flags2 words of init_in / init_out are valid. */
  public static final long INIT_EXT = 1L << 30;
  /** Shared mmap is allowed on FOPEN_DIRECT_IO files. */
  public static final long DIRECT_IO_ALLOW_MMAP = 1L << 36;

  // ---- OPEN reply flags (fuse_open_out.open_flags)
  /** Bypass the page cache for this open file. */
  public static final int FOPEN_DIRECT_IO = 1;
  /** Direct writes inside the file's size may run in parallel (no inode lock held). */
  public static final int FOPEN_PARALLEL_DIRECT_WRITES = 1 << 6;

  // ---- SETATTR valid bits (fuse_setattr_in.valid)
  /** mode is set. */
  public static final int FATTR_MODE = 1;
  /** uid is set. */
  public static final int FATTR_UID = 1 << 1;
  /** gid is set. */
  public static final int FATTR_GID = 1 << 2;
  /** size is set: truncate. */
  public static final int FATTR_SIZE = 1 << 3;

  // ---- fallocate modes
  /** Do not change the file size. */
  public static final int FALLOC_FL_KEEP_SIZE = 0x01;
  /** Deallocate the range; it reads as zeros. */
  public static final int FALLOC_FL_PUNCH_HOLE = 0x02;
  /** Zero the range, keeping it allocated. */
  public static final int FALLOC_FL_ZERO_RANGE = 0x10;

  // ---- FSYNC flags
  /** fdatasync: data only, not metadata. */
  public static final int FSYNC_FDATASYNC = 1;

  // ---- struct fuse_in_header (40 bytes)
  /** Size of fuse_in_header. */
  public static final int IN_HEADER = 40;
  /** in_header.len: u32, total length including the header. */
  public static final int IN_LEN = 0;
  /** in_header.opcode: u32. */
  public static final int IN_OPCODE = 4;
  /** in_header.unique: u64, the id the reply repeats. */
  public static final int IN_UNIQUE = 8;
  /** in_header.nodeid: u64. */
  public static final int IN_NODEID = 16;
  /** in_header.uid: u32. */
  public static final int IN_UID = 24;
  /** in_header.gid: u32. */
  public static final int IN_GID = 28;
  /** in_header.pid: u32. */
  public static final int IN_PID = 32;

  // ---- struct fuse_out_header (16 bytes)
  /** Size of fuse_out_header. */
  public static final int OUT_HEADER = 16;
  /** out_header.len: u32. */
  public static final int OUT_LEN = 0;
  /** out_header.error: i32, 0 or a negated errno. */
  public static final int OUT_ERROR = 4;
  /** out_header.unique: u64. */
  public static final int OUT_UNIQUE = 8;

  // ---- struct fuse_attr (88 bytes)
  /** Size of fuse_attr. */
  public static final int ATTR_SIZE = 88;

  /** Size of fuse_entry_out: ids and timeouts (40 bytes), then fuse_attr. */
  public static final int ENTRY_OUT_SIZE = 40 + ATTR_SIZE;
  /** Size of fuse_attr_out: timeout (16 bytes), then fuse_attr. */
  public static final int ATTR_OUT_SIZE = 16 + ATTR_SIZE;
  /** Size of fuse_init_out. */
  public static final int INIT_OUT_SIZE = 64;
  /** Size of fuse_open_out. */
  public static final int OPEN_OUT_SIZE = 16;
  /** Size of fuse_write_out. */
  public static final int WRITE_OUT_SIZE = 8;
  /** Size of fuse_statfs_out. */
  public static final int STATFS_OUT_SIZE = 80;
  /** Size of fuse_lseek_out. */
  public static final int LSEEK_OUT_SIZE = 8;
  /** Size of fuse_write_in: the data of a WRITE follows it. */
  public static final int WRITE_IN_SIZE = 40;
  /** Bytes of fuse_dirent before the name. */
  public static final int DIRENT_NAME = 24;

  /** Directory entry type of a directory (DT_DIR). */
  public static final int DT_DIR = 4;
  /** Directory entry type of a regular file (DT_REG). */
  public static final int DT_REG = 8;

  /** The name of an opcode for log lines. */
  public static String opName(int opcode) {
    return switch (opcode) {
      case LOOKUP -> "LOOKUP";
      case FORGET -> "FORGET";
      case GETATTR -> "GETATTR";
      case SETATTR -> "SETATTR";
      case OPEN -> "OPEN";
      case READ -> "READ";
      case WRITE -> "WRITE";
      case STATFS -> "STATFS";
      case RELEASE -> "RELEASE";
      case FSYNC -> "FSYNC";
      case FLUSH -> "FLUSH";
      case INIT -> "INIT";
      case OPENDIR -> "OPENDIR";
      case READDIR -> "READDIR";
      case RELEASEDIR -> "RELEASEDIR";
      case INTERRUPT -> "INTERRUPT";
      case DESTROY -> "DESTROY";
      case BATCH_FORGET -> "BATCH_FORGET";
      case FALLOCATE -> "FALLOCATE";
      case LSEEK -> "LSEEK";
      default -> "opcode " + opcode;
    };
  }
}
