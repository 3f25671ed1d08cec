package dev.jdm.fuse.proto;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Requests as the kernel writes them (here from a file in place of /dev/fuse): each opcode's
 * arguments are decoded into its struct, and a request too short for it is refused with the
 * reason, before any handler reads a field.
 */
class FuseArgsTest {
  @TempDir Path tmp;
  private final List<Integer> fds = new ArrayList<>();

  @AfterEach
  void closeFiles() {
    fds.forEach(LinuxCalls::close);
  }

  /** A request of {@code opcode} with {@code args} after the in-header, as read(2) returns it. */
  private FuseRequest receive(Arena arena, int opcode, byte[] args) throws Exception {
    ByteBuffer b = ByteBuffer.allocate(FuseWire.IN_HEADER + args.length)
        .order(ByteOrder.nativeOrder());
    b.putInt(FuseWire.IN_HEADER + args.length).putInt(opcode).putLong(77).putLong(5)
        .putInt(0).putInt(0).putInt(0).putInt(0).put(args);
    Path f = Files.write(tmp.resolve("req-" + opcode + "-" + args.length), b.array());
    int fd = LinuxCalls.open(f.toString(), LinuxCalls.O_RDWR);
    fds.add(fd);
    FuseRequest r = new FuseRequest(fd, 1 << 20, arena);
    assertEquals(0, r.receive());
    return r;
  }

  private static byte[] le(int bytes, long... words) {
    ByteBuffer b = ByteBuffer.allocate(bytes).order(ByteOrder.nativeOrder());
    for (long w : words) {
      b.putLong(w);
    }
    return b.array();
  }

  @Test
  void eachOpcodeIsDecodedIntoItsStruct() throws Exception {
    try (Arena arena = Arena.ofConfined()) {
      // fuse_read_in: fh 9, offset 4096, size 512.
      FuseRequest read = receive(arena, FuseWire.READ, le(40, 9, 4096, 512));
      assertNull(read.fit());
      assertEquals(9, read.args().read().fh());
      assertEquals(4096, read.args().read().offset());
      assertEquals(512, read.args().read().size());
      byte[] write = new byte[40 + 100];
      ByteBuffer.wrap(write).order(ByteOrder.nativeOrder()).putLong(3).putLong(0).putInt(100);
      assertNull(receive(arena, FuseWire.WRITE, write).fit());
      FuseRequest lookup = receive(arena, FuseWire.LOOKUP, "disk\0".getBytes());
      assertNull(lookup.fit());
      assertEquals("disk", lookup.args().name());
    }
  }

  @Test
  void aRequestTooShortForItsOpcodeIsRefused() throws Exception {
    try (Arena arena = Arena.ofConfined()) {
      assertEquals("8 bytes of arguments, 40 needed",
          receive(arena, FuseWire.READ, le(8, 9)).fit());
      assertEquals("20 bytes of arguments, 88 needed",
          receive(arena, FuseWire.SETATTR, new byte[20]).fit());
      assertEquals("0 bytes of arguments, 8 needed", receive(arena, FuseWire.OPEN, new byte[0])
          .fit());
      byte[] write = new byte[40 + 10];
      ByteBuffer.wrap(write).order(ByteOrder.nativeOrder()).putLong(3).putLong(0).putInt(4096);
      assertEquals("WRITE of 4096 bytes carries 10", receive(arena, FuseWire.WRITE, write).fit());
      assertEquals("LOOKUP name not ended by a NUL",
          receive(arena, FuseWire.LOOKUP, "disk".getBytes()).fit());
      byte[] forget = new byte[8 + 16];
      ByteBuffer.wrap(forget).order(ByteOrder.nativeOrder()).putInt(1000);
      assertEquals("BATCH_FORGET of 1000 nodes carries 16 bytes",
          receive(arena, FuseWire.BATCH_FORGET, forget).fit());
      assertNull(receive(arena, FuseWire.STATFS, new byte[0]).fit());
    }
  }
}
