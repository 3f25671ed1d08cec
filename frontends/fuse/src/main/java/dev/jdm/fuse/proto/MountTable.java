package dev.jdm.fuse.proto;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The mounts this process sees, from {@code /proc/self/mountinfo} (proc(5)). */
public final class MountTable {
  private static final Path MOUNTINFO = Path.of("/proc/self/mountinfo");

  /**
   * One mount.
   *
   * @param major the device major of the mounted file system (0 for FUSE and other virtual ones)
   * @param minor the device minor; for FUSE, the connection's number under fusectl
   * @param mountPoint where it is mounted
   * @param type its file system type, e.g. {@code fuse.jdm}
   */
  public record Mount(int major, int minor, String mountPoint, String type, String source) {
    /** The FUSE connection's directory name under {@code /sys/fs/fuse/connections}. */
    public long connection() {
      return ((long) major << 20) | minor;
    }
  }

  private MountTable() {}

  /** Every mount, in mount order (a later one on the same point hides an earlier one). */
  public static List<Mount> read() throws IOException {
    List<Mount> mounts = new ArrayList<>();
    for (String line : Files.readAllLines(MOUNTINFO)) {
      String[] f = line.split(" ");
      int dash = List.of(f).indexOf("-");
      if (f.length < 7 || dash < 6 || dash + 2 >= f.length) {
        continue;
      }
      String[] dev = f[2].split(":");
      mounts.add(new Mount(Integer.parseInt(dev[0]), Integer.parseInt(dev[1]), unescape(f[4]),
          unescape(f[dash + 1]), unescape(f[dash + 2])));
    }
    return mounts;
  }

  /** The topmost mount on {@code mountPoint}, or null. */
  public static Mount top(Path mountPoint) throws IOException {
    String p = mountPoint.toString();
    Mount found = null;
    for (Mount m : read()) {
      if (m.mountPoint().equals(p)) {
        found = m;
      }
    }
    return found;
  }

  /** Undoes the kernel's octal escapes of space, tab, newline and backslash. */
  static String unescape(String s) {
    if (s.indexOf('\\') < 0) {
      return s;
    }
    StringBuilder b = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '\\' && isOctal(s, i + 1)) {
        b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
        i += 3;
      } else {
        b.append(c);
      }
    }
    return b.toString();
  }

  private static boolean isOctal(String s, int from) {
    if (from + 3 > s.length()) {
      return false;
    }
    for (int i = from; i < from + 3; i++) {
      if (s.charAt(i) < '0' || s.charAt(i) > '7') {
        return false;
      }
    }
    return true;
  }
}
