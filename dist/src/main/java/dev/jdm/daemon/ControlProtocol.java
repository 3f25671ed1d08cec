package dev.jdm.daemon;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The control protocol between the {@code jdm} verbs and {@code jdm serve}, over the Unix socket
 * {@code <runtime-dir>/control.sock} (mode 0600). One request and one reply per connection.
 *
 * <p>Both are a <b>list of strings</b>: a big-endian u32 count, then per string a big-endian u32
 * byte length and that many bytes of UTF-8. At most {@link #MAX_STRINGS} strings and
 * {@link #MAX_BYTES} bytes of text per list. A reader keeps only what has arrived: an announced
 * length reserves nothing.
 *
 * <p><b>Request</b>: {@link #VERSION}, the verb, then its arguments. A verb's table (from
 * {@code --table}, a file or standard input) is read by the client and sent as text.
 *
 * <pre>
 * create  NAME READONLY [TABLE]     READONLY is true|false; no TABLE: a device without a table
 * load    NAME TABLE                into the inactive slot (reload is the same verb)
 * remove  NAME FORCE [DEFERRED]     true|false each; an open device is refused without either
 * clear | suspend | resume  NAME
 * table   INACTIVE [NAME]           INACTIVE is true|false; no NAME: every device
 * status  [NAME]                   with NAME: also the device's counters and trace state
 * info    [NAME]
 * message NAME SECTOR WORD...
 * wait    NAME EVENT_NR TIMEOUT_MS VERBOSE   until the event number is above EVENT_NR;
 *                                   TIMEOUT_MS 0: no limit; VERBOSE true|false: reply info
 * trace-start NAME [FILE [REPLACE]] FILE absolute, new unless REPLACE is true, never a symbolic
 *                                   link; none: a new file in jdm.trace.dir
 * trace-stop  NAME
 * plugin-load [JAR]                 JAR absolute; none: the jars new in the plugins directory
 * plugin-unload ID
 * plugin-ls | ls | targets | version
 * </pre>
 *
 * <p><b>Reply</b>: three strings: the exit code in decimal (0 done, 1 failed, 2 bad request), the
 * text for standard output, the text for standard error.
 */
public final class ControlProtocol {
  /** First string of every request; a daemon refuses a request for another version. */
  public static final String VERSION = "jdm-control/1";
  /** The socket's file name inside the runtime directory. */
  public static final String SOCKET = "control.sock";
  /** Most strings in one list. */
  public static final int MAX_STRINGS = 1 << 16;
  /** Most bytes of text in one list: room for tables of hundreds of thousands of lines. */
  public static final int MAX_BYTES = 16 << 20;
  /** Bytes a string's buffer starts with; it grows as its bytes arrive, never ahead of them. */
  private static final int FIRST_READ = 64 << 10;

  private ControlProtocol() {}

  /** A reply: exit code, standard output, standard error. */
  public record Reply(int exitCode, String out, String err) {
    /** A successful reply printing {@code out}. */
    public static Reply ok(String out) {
      return new Reply(0, out, "");
    }

    /** A failed operation: exit 1, one line on standard error. */
    public static Reply failed(String line) {
      return new Reply(1, "", line + "\n");
    }

    /** A request the daemon cannot read: exit 2. */
    public static Reply badRequest(String line) {
      return new Reply(2, "", line + "\n");
    }

    /** The reply as the list of strings sent on the wire. */
    public List<String> strings() {
      return List.of(Integer.toString(exitCode), out, err);
    }

    /** Reads a reply from the strings received. */
    public static Reply of(List<String> s) throws IOException {
      if (s.size() != 3) {
        throw new IOException("malformed reply from the daemon: " + s.size() + " strings");
      }
      try {
        return new Reply(Integer.parseInt(s.get(0)), s.get(1), s.get(2));
      } catch (NumberFormatException e) {
        throw new IOException("malformed reply from the daemon: exit code '" + s.get(0) + "'");
      }
    }
  }

  /** Writes one list of strings. */
  public static void write(WritableByteChannel ch, List<String> strings) throws IOException {
    List<byte[]> bytes = strings.stream().map(s -> s.getBytes(StandardCharsets.UTF_8)).toList();
    long total = bytes.stream().mapToLong(b -> b.length).sum();
    if (bytes.size() > MAX_STRINGS || total > MAX_BYTES) {
      throw new IOException("message too large: " + bytes.size() + " strings, " + total
          + " bytes (at most " + MAX_STRINGS + " and " + MAX_BYTES + ")");
    }
    ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(4 + 4L * bytes.size() + total));
    b.putInt(bytes.size());
    for (byte[] s : bytes) {
      b.putInt(s.length).put(s);
    }
    b.flip();
    while (b.hasRemaining()) {
      ch.write(b);
    }
  }

  /** Reads one list of strings, refusing one that breaks the limits. */
  public static List<String> read(ReadableByteChannel ch) throws IOException {
    DataInputStream in = new DataInputStream(Channels.newInputStream(ch));
    try {
      int count = in.readInt();
      if (count < 0 || count > MAX_STRINGS) {
        throw new IOException("bad string count " + Integer.toUnsignedString(count));
      }
      List<String> out = new ArrayList<>(count);
      long budget = MAX_BYTES;
      for (int i = 0; i < count; i++) {
        int len = in.readInt();
        if (len < 0 || len > budget) {
          throw new IOException("string " + i + " too long: " + Integer.toUnsignedString(len)
              + " bytes");
        }
        budget -= len;
        byte[] s = new byte[Math.min(len, FIRST_READ)];
        int have = 0;
        while (have < len) {
          if (have == s.length) {
            s = Arrays.copyOf(s, (int) Math.min(len, 2L * s.length));
          }
          int n = in.read(s, have, s.length - have);
          if (n < 0) {
            throw new EOFException();
          }
          have += n;
        }
        out.add(new String(s, StandardCharsets.UTF_8));
      }
      return out;
    } catch (EOFException e) {
      throw new IOException("message cut short", e);
    }
  }
}
