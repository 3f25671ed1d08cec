package dev.jdm.fuse;

import dev.jdm.fuse.DeviceTree.Node;
import dev.jdm.fuse.proto.Attributes;
import dev.jdm.fuse.proto.Errno;
import dev.jdm.fuse.proto.FuseFilesystem;
import dev.jdm.fuse.proto.FuseRequest;
import dev.jdm.fuse.proto.FuseSession;
import dev.jdm.fuse.proto.FuseWire;
import dev.jdm.fuse.proto.LinuxCalls;
import dev.jdm.kernel.DeviceListener;
import dev.jdm.kernel.DmException;
import dev.jdm.kernel.MappedDevice;
import dev.jdm.kernel.PartialWrites;
import dev.jdm.kernel.SyncIo;
import dev.jdm.spi.ExtentSink;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The file system the FUSE mount shows: a root directory with one regular file per device, named
 * after it, as large as it, mode 0600 (0400 when read-only). Reads, writes, flushes and fallocate
 * become I/O requests on the device; names cannot be created, removed or renamed, and files cannot
 * be truncated.
 *
 * <p>Requests are byte-granular (a {@code cat} or {@code dd bs=1} sends any offset and length)
 * while devices take whole 512-byte sectors: a read of a partial sector reads the whole sectors
 * around it;
 * a write of a partial sector reads the edge sectors, merges, and writes whole sectors, under the
 * kernel's locks of those sectors ({@link PartialWrites}), so that two partial writes sharing a
 * sector, from this mount or NBD, cannot lose each other's bytes; aligned I/O, what direct-I/O
 * users and the loop driver send, takes no lock.
 */
final class DeviceFiles implements FuseFilesystem, DeviceListener {
  private static final int SECTOR = IoRequest.SECTOR_SIZE;
  private static final int O_ACCMODE = 3;
  private static final int O_TRUNC = 01000;
  private static final int O_DSYNC = 010000;
  private static final int STATFS_BLOCK = 4096;
  private static final int NAME_MAX = 127;
  private static final byte[] DOT = {'.'};
  private static final byte[] DOTDOT = {'.', '.'};

  private final DeviceTree tree = new DeviceTree();
  private final long attrNanos;
  private final int uid = LinuxCalls.geteuid();
  private final int gid = LinuxCalls.getegid();
  private final long mountedMillis = System.currentTimeMillis();
  private final ConcurrentHashMap<Long, List<Node>> listings = new ConcurrentHashMap<>();
  private final AtomicLong listingIds = new AtomicLong(1);
  /** The device of each open file handle, to release it once at RELEASE. */
  private final ConcurrentHashMap<Long, MappedDevice> open = new ConcurrentHashMap<>();
  private final AtomicLong handles = new AtomicLong(1);
  private volatile FuseSession session;

  /** A file system whose names and attributes the kernel may cache for {@code attrNanos}. */
  DeviceFiles(long attrNanos) {
    this.attrNanos = attrNanos;
  }

  /** From now on, tells {@code s}'s kernel at once when devices come, go or change. */
  void notifyThrough(FuseSession s) {
    this.session = s;
  }

  // ------------------------------------------------------------ devices

  @Override
  public void created(MappedDevice device) {
    if (tree.add(device) != null) {
      FuseSession s = session;
      if (s != null) {
        s.invalidateEntry(DeviceTree.ROOT, device.name());
      }
    }
  }

  @Override
  public void changed(MappedDevice device) {
    FuseSession s = session;
    for (Node n : tree.list()) {
      if (n.device == device && s != null) {
        s.invalidateAttributes(n.id);
      }
    }
  }

  @Override
  public void removed(MappedDevice device) {
    Node n = tree.remove(device);
    FuseSession s = session;
    if (n != null && s != null) {
      s.deleted(DeviceTree.ROOT, n.id, n.name);
    }
  }

  // ------------------------------------------------------------ names and attributes

  private Attributes rootAttributes() {
    return new Attributes(DeviceTree.ROOT, 0, 0, Math.floorDiv(mountedMillis, 1000),
        Math.floorMod(mountedMillis, 1000) * 1_000_000, Attributes.S_IFDIR | 0755, 2, uid,
        gid, STATFS_BLOCK);
  }

  private Attributes attributes(Node n) {
    MappedDevice d = n.device;
    long size = d.sizeInBytes();
    int mode = Attributes.S_IFREG | (d.readOnly() ? 0400 : 0600);
    return new Attributes(n.id, size, size / SECTOR, n.createdSeconds, n.createdNanos, mode,
        n.removed ? 0 : 1, uid, gid, d.limits().minimumIo());
  }

  @Override
  public void lookup(FuseRequest r, long parent, String name) {
    if (parent != DeviceTree.ROOT) {
      r.replyError(Errno.ENOTDIR);
      return;
    }
    Node n = tree.lookup(name);
    if (n == null) {
      r.replyError(Errno.ENOENT);
      return;
    }
    r.replyEntry(attributes(n), n.generation, attrNanos, attrNanos);
  }

  @Override
  public void forget(long node, long lookups) {
    tree.forget(node, lookups);
  }

  @Override
  public void getattr(FuseRequest r, long node) {
    if (node == DeviceTree.ROOT) {
      r.replyAttr(rootAttributes(), attrNanos);
      return;
    }
    Node n = tree.byId(node);
    if (n == null) {
      r.replyError(Errno.ENOENT);
      return;
    }
    r.replyAttr(attributes(n), attrNanos);
  }

  /** Only times may change (and are ignored): size, mode and owner follow the device. */
  @Override
  public void setattr(FuseRequest r, long node, int valid, long size, int mode) {
    Attributes a;
    if (node == DeviceTree.ROOT) {
      a = rootAttributes();
    } else {
      Node n = tree.byId(node);
      if (n == null) {
        r.replyError(Errno.ENOENT);
        return;
      }
      a = attributes(n);
    }
    boolean resize = (valid & FuseWire.FATTR_SIZE) != 0 && size != a.size();
    boolean chmod = (valid & FuseWire.FATTR_MODE) != 0 && (mode & 07777) != (a.mode() & 07777);
    boolean chown = (valid & (FuseWire.FATTR_UID | FuseWire.FATTR_GID)) != 0;
    if (resize || chmod || chown) {
      r.replyError(Errno.EPERM);
      return;
    }
    r.replyAttr(a, attrNanos);
  }

  @Override
  public void opendir(FuseRequest r, long node) {
    if (node != DeviceTree.ROOT) {
      r.replyError(Errno.ENOTDIR);
      return;
    }
    long fh = listingIds.getAndIncrement();
    listings.put(fh, tree.list());
    r.replyOpen(fh, 0);
  }

  /** Lists ".", ".." and the devices as they were at opendir; position i is entry i. */
  @Override
  public void readdir(FuseRequest r, long node, long fh, long offset, int size) {
    List<Node> nodes = listings.get(fh);
    if (nodes == null) {
      r.replyError(Errno.EINVAL);
      return;
    }
    int limit = Math.min(size, r.outCapacity());
    int at = 0;
    for (long i = offset; i < nodes.size() + 2L; i++) {
      int next;
      if (i < 2) {
        byte[] name = i == 0 ? DOT : DOTDOT;
        next = r.putDirent(at, limit, DeviceTree.ROOT, i + 1, FuseWire.DT_DIR, name);
      } else {
        Node n = nodes.get((int) (i - 2));
        next = r.putDirent(at, limit, n.id, i + 1, FuseWire.DT_REG, n.nameBytes);
      }
      if (next < 0) {
        break;
      }
      at = next;
    }
    r.reply(at);
  }

  @Override
  public void releasedir(FuseRequest r, long node, long fh) {
    listings.remove(fh);
    r.replyOk();
  }

  @Override
  public void statfs(FuseRequest r) {
    long bytes = 0;
    List<Node> nodes = tree.list();
    for (Node n : nodes) {
      bytes += n.device.sizeInBytes();
    }
    r.replyStatfs((bytes + STATFS_BLOCK - 1) / STATFS_BLOCK, nodes.size(), STATFS_BLOCK, NAME_MAX);
  }

  @Override
  public void changeNames(FuseRequest r) {
    r.replyError(Errno.EPERM);
  }

  // ------------------------------------------------------------ open files

  /**
   * Opens a device file with direct I/O (the kernel keeps no copy of device data) and parallel
   * direct writes, and counts it as an open of the device (a loop device attached to the file
   * holds one), so the device cannot be removed under it. The handle is a number of this open,
   * with bit 0 set for a write open. O_TRUNC is refused: it would be a request to empty the device.
   */
  @Override
  public void open(FuseRequest r, long node, int flags) {
    if (node == DeviceTree.ROOT) {
      r.replyError(Errno.EISDIR);
      return;
    }
    Node n = tree.byId(node);
    if (n == null) {
      r.replyError(Errno.ENOENT);
      return;
    }
    boolean write = (flags & O_ACCMODE) != 0;
    if ((flags & O_TRUNC) != 0) {
      r.replyError(Errno.EPERM);
      return;
    }
    if (write && n.device.readOnly()) {
      r.replyError(Errno.EROFS);
      return;
    }
    try {
      n.device.open();
    } catch (DmException removed) {
      r.replyError(Errno.ENXIO);
      return;
    }
    long fh = handles.getAndIncrement() << 1 | (write ? 1 : 0);
    open.put(fh, n.device);
    if (!r.replyOpen(fh, FuseWire.FOPEN_DIRECT_IO | FuseWire.FOPEN_PARALLEL_DIRECT_WRITES)) {
      // The opener was interrupted and will never use the handle, nor release it.
      release(fh);
    }
  }

  /** Closes one open of a device, once. */
  private void release(long fh) {
    MappedDevice d = open.remove(fh);
    if (d != null) {
      d.release();
    }
  }

  /** Closes the opens the kernel will not release any more: the mount is going away. */
  void releaseAll() {
    for (Long fh : List.copyOf(open.keySet())) {
      release(fh);
    }
  }

  private static SyncIo io(FuseRequest r) {
    SyncIo io = (SyncIo) r.context();
    if (io == null) {
      io = new SyncIo();
      r.context(io);
    }
    return io;
  }

  /**
   * The device file of {@code node} for I/O, or null after replying: ENOENT for no such node,
   * ENODEV when its device was removed (a file kept open must never reach a device created later
   * under the same name, nor pretend to be an empty file).
   */
  private static Node file(DeviceTree tree, FuseRequest r, long node) {
    Node n = tree.byId(node);
    if (n == null) {
      r.replyError(node == DeviceTree.ROOT ? Errno.EISDIR : Errno.ENOENT);
    } else if (n.removed || n.device.removed()) {
      r.replyError(Errno.ENODEV);
      return null;
    }
    return n;
  }

  /** The device file for I/O of {@code size} bytes at {@code offset}, or null after replying. */
  private static Node file(DeviceTree tree, FuseRequest r, long node, long offset, int size) {
    Node n = file(tree, r, node);
    if (n != null && (offset < 0 || size < 0)) {
      r.replyError(Errno.EINVAL);
      return null;
    }
    return n;
  }

  @Override
  public void read(FuseRequest r, long node, long fh, long offset, int size) {
    Node n = file(tree, r, node, offset, size);
    if (n == null) {
      return;
    }
    long end = n.device.sizeInBytes();
    if (offset >= end || size == 0) {
      r.reply(0);
      return;
    }
    int length = (int) Math.min(size, end - offset);
    long first = offset & -SECTOR;
    int head = (int) (offset - first);
    int span = roundUp(head + length);
    if (span - head > r.outCapacity()) {
      r.replyError(Errno.EINVAL);
      return;
    }
    IoStatus s = io(r).run(n.device, IoOp.READ, 0, first / SECTOR, span, r.bytes(),
        r.outBody() - head);
    if (s.ok()) {
      r.reply(length);
    } else {
      r.replyError(s.errno());
    }
  }

  @Override
  public void write(FuseRequest r, long node, long fh, long offset, int size, int flags) {
    Node n = file(tree, r, node, offset, size);
    if (n == null) {
      return;
    }
    long end = n.device.sizeInBytes();
    if (size == 0) {
      r.replyWritten(0);
      return;
    }
    if (offset >= end) {
      r.replyError(Errno.ENOSPC);
      return;
    }
    int length = (int) Math.min(size, end - offset);
    int fua = (flags & O_DSYNC) != 0 ? IoRequest.FUA : 0;
    IoStatus s;
    if (((offset | length) & (SECTOR - 1)) == 0) {
      s = io(r).run(n.device, IoOp.WRITE, fua, offset / SECTOR, length, r.bytes(), r.writeData());
    } else {
      s = writePartial(r, n, offset, length, r.writeData(), fua);
    }
    if (s.ok()) {
      r.replyWritten(length);
    } else {
      r.replyError(s.errno());
    }
  }

  /**
   * Writes bytes that do not cover whole sectors (from {@code from} in the request buffer, or
   * zeros when it is -1): the kernel's read-modify-write of the edge sectors, with the reply area
   * as scratch.
   */
  private IoStatus writePartial(FuseRequest r, Node n, long offset, int length, int from,
      int flags) {
    ByteBuffer b = r.bytes();
    return PartialWrites.write(io(r), n.device, offset, length, from < 0 ? null : b, from, b,
        r.outBody(), flags);
  }

  private static int roundUp(long bytes) {
    return (int) ((bytes + SECTOR - 1) & -SECTOR);
  }

  /** close(2) of a write descriptor flushes the device; a read-only descriptor has nothing to. */
  @Override
  public void flush(FuseRequest r, long node, long fh) {
    if ((fh & 1) == 0) {
      r.replyOk();
      return;
    }
    fsync(r, node, fh, false);
  }

  @Override
  public void fsync(FuseRequest r, long node, long fh, boolean dataOnly) {
    Node n = file(tree, r, node);
    if (n == null) {
      return;
    }
    IoStatus s = io(r).run(n.device, IoOp.FLUSH, 0, 0, 0, null, 0);
    if (s.ok()) {
      r.replyOk();
    } else {
      r.replyError(s.errno());
    }
  }

  @Override
  public void release(FuseRequest r, long node, long fh) {
    release(fh);
    r.replyOk();
  }

  /**
   * PUNCH_HOLE and ZERO_RANGE make the range read as zeros, as fallocate(2) promises; partial
   * sectors at the edges are zeroed by read-modify-write. Plain allocation inside the device is a
   * no-op (a device is all there); the file never grows.
   */
  @Override
  public void fallocate(FuseRequest r, long node, long fh, long offset, long length, int mode) {
    Node n = file(tree, r, node);
    if (n == null) {
      return;
    }
    int known = FuseWire.FALLOC_FL_KEEP_SIZE | FuseWire.FALLOC_FL_PUNCH_HOLE
        | FuseWire.FALLOC_FL_ZERO_RANGE;
    if ((mode & ~known) != 0) {
      r.replyError(Errno.EOPNOTSUPP);
      return;
    }
    long end = n.device.sizeInBytes();
    if (offset < 0 || length <= 0) {
      r.replyError(Errno.EINVAL);
      return;
    }
    if (offset + length > end && (mode & FuseWire.FALLOC_FL_KEEP_SIZE) == 0) {
      r.replyError(Errno.ENOSPC);
      return;
    }
    long stop = Math.min(end, offset + length);
    IoStatus s = IoStatus.OK;
    if ((mode & FuseWire.FALLOC_FL_PUNCH_HOLE) != 0) {
      s = zero(r, n, offset, stop, IoRequest.FAST_ZERO);
    } else if ((mode & FuseWire.FALLOC_FL_ZERO_RANGE) != 0) {
      s = zero(r, n, offset, stop, IoRequest.NO_UNMAP);
    }
    if (s.ok()) {
      r.replyOk();
    } else {
      r.replyError(s.errno());
    }
  }

  /**
   * Zeroes bytes [from, to): whole sectors with WRITE_ZEROES (without NO_UNMAP a device may
   * deallocate them, as the block layer does for a punched hole), partial edge sectors by
   * read-modify-write.
   */
  private IoStatus zero(FuseRequest r, Node n, long from, long to, int flags) {
    long firstWhole = roundUpLong(from);
    long endWhole = to & -SECTOR;
    if (firstWhole >= endWhole) {
      return writePartial(r, n, from, (int) (to - from), -1, 0);
    }
    IoStatus s = io(r).runRange(n.device, IoOp.WRITE_ZEROES, flags, firstWhole / SECTOR,
        (endWhole - firstWhole) / SECTOR);
    if (s.ok() && from < firstWhole) {
      s = writePartial(r, n, from, (int) (firstWhole - from), -1, 0);
    }
    if (s.ok() && endWhole < to) {
      s = writePartial(r, n, endWhole, (int) (to - endWhole), -1, 0);
    }
    return s;
  }

  private static long roundUpLong(long bytes) {
    return (bytes + SECTOR - 1) & -SECTOR;
  }

  /** SEEK_DATA / SEEK_HOLE from the device's block status: holes are extents flagged HOLE. */
  @Override
  public void lseek(FuseRequest r, long node, long fh, long offset, int whence) {
    Node n = file(tree, r, node);
    if (n == null) {
      return;
    }
    if (whence != LinuxCalls.SEEK_DATA && whence != LinuxCalls.SEEK_HOLE) {
      r.replyError(Errno.EINVAL);
      return;
    }
    long end = n.device.sizeInBytes();
    if (offset < 0 || offset >= end) {
      r.replyError(Errno.ENXIO);
      return;
    }
    boolean wantHole = whence == LinuxCalls.SEEK_HOLE;
    long sector = offset / SECTOR;
    ExtentScan scan = new ExtentScan(sector * SECTOR, wantHole);
    n.device.blockStatus(sector, end / SECTOR - sector, scan);
    if (scan.found >= 0) {
      r.replyOffset(Math.max(offset, scan.found));
    } else if (wantHole) {
      r.replyOffset(end);
    } else {
      r.replyError(Errno.ENXIO);
    }
  }

  /** Finds the first extent that is (or is not) a hole. */
  private static final class ExtentScan implements ExtentSink {
    private final boolean wantHole;
    private long position;
    long found = -1;

    ExtentScan(long position, boolean wantHole) {
      this.position = position;
      this.wantHole = wantHole;
    }

    @Override
    public boolean extent(long sectors, int flags) {
      if (((flags & ExtentSink.HOLE) != 0) == wantHole) {
        found = position;
        return false;
      }
      position += sectors * SECTOR;
      return true;
    }
  }
}
