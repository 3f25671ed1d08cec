package dev.jdm.targets.crypt;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.jdm.kernel.DeviceMapper;
import dev.jdm.kernel.MappedDevice;
import dev.jdm.kernel.TargetRegistry;
import dev.jdm.spi.IoStatus;
import dev.jdm.testkit.BlockIo;
import dev.jdm.testkit.ReferenceCipher;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The bytes jdm's crypt writes to the backing file are those the kernel's dm-crypt would write:
 * checked against the test's own {@link ReferenceCipher}, in both directions.
 */
class CryptCompatibilityTest {
  private static final int LENGTH = 4096;

  @TempDir
  Path dir;
  private DeviceMapper mapper;
  private Path file;

  @BeforeEach
  void mapper() throws Exception {
    TargetRegistry registry = new TargetRegistry();
    assertEquals(List.of(), registry.discover(getClass().getClassLoader(), "class path"));
    mapper = new DeviceMapper(registry);
    file = dir.resolve("backing.img");
  }

  @AfterEach
  void close() {
    mapper.close();
  }

  /** What the test knows of one crypt table: enough to encrypt as it should. */
  private record Layout(String cipher, byte[] key, long ivOffset, long offset, int sectorSize,
      boolean ivLarge) {
    String table(Path file) {
      List<String> opts = new java.util.ArrayList<>();
      if (sectorSize != 512) {
        opts.add("sector_size:" + sectorSize);
      }
      if (ivLarge) {
        opts.add("iv_large_sectors");
      }
      return "0 " + LENGTH + " crypt " + cipher + " " + HexFormat.of().formatHex(key) + " "
          + ivOffset + " " + file + " " + offset
          + (opts.isEmpty() ? "" : " " + opts.size() + " " + String.join(" ", opts));
    }

    /** The IV sector of the crypto sector that starts at the segment's 512-byte sector s. */
    long ivSector(long s) {
      long cc = s + ivOffset;
      return ivLarge ? cc / (sectorSize / 512) : cc;
    }

    /** Reference encryption (or decryption) of one crypto sector at segment sector s. */
    byte[] crypt(boolean encrypt, long s, byte[] unit) throws Exception {
      long iv = ivSector(s);
      return switch (cipher) {
        case "aes-xts-plain64", "capi:xts(aes)-plain64" ->
            ReferenceCipher.xts(encrypt, key, ReferenceCipher.plain64(iv), unit);
        case "aes-xts-plain" ->
            ReferenceCipher.xts(encrypt, key, ReferenceCipher.plain64(iv & 0xffffffffL), unit);
        case "aes-cbc-essiv:sha256", "capi:cbc(aes)-essiv:sha256" ->
            ReferenceCipher.cbcEssiv(encrypt, key, iv, unit);
        case "aes-cbc-plain64" -> ReferenceCipher.cbc(encrypt, key, ReferenceCipher.plain64(iv),
            unit);
        case "aes-cbc-plain" -> ReferenceCipher.cbc(encrypt, key,
            ReferenceCipher.plain64(iv & 0xffffffffL), unit);
        case "aes-cbc-plain64be" -> {
          byte[] ivb = new byte[16];
          for (int i = 0; i < 8; i++) {
            ivb[15 - i] = (byte) (iv >>> (8 * i));
          }
          yield ReferenceCipher.cbc(encrypt, key, ivb, unit);
        }
        default -> throw new IllegalArgumentException(cipher);
      };
    }
  }

  private MappedDevice create(Layout l) throws Exception {
    try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
      raf.setLength((l.offset + LENGTH) * 512);
    }
    return mapper.create("c", l.table(file), false);
  }

  private static byte[] key(int bytes, int seed) {
    byte[] k = new byte[bytes];
    new Random(seed).nextBytes(k);
    return k;
  }

  @ParameterizedTest(name = "{0} key {1} bits, iv_offset {2}, offset {3}, sector {4}, large {5}")
  @CsvSource({
      "aes-xts-plain64, 256, 0, 0, 512, false",
      "aes-xts-plain64, 512, 123, 77, 512, false",
      "aes-xts-plain64, 512, 16, 2048, 4096, true",
      "aes-xts-plain64, 256, 8, 8, 4096, false",
      "capi:xts(aes)-plain64, 512, 5, 3, 512, false",
      "aes-xts-plain, 256, 4294967290, 0, 512, false",
      "aes-cbc-essiv:sha256, 256, 0, 0, 512, false",
      "aes-cbc-essiv:sha256, 128, 24, 40, 4096, true",
      "capi:cbc(aes)-essiv:sha256, 192, 9, 0, 512, false",
      "aes-cbc-plain64, 256, 1000, 1, 512, false",
      "aes-cbc-plain, 128, 4294967290, 0, 512, false",
      "aes-cbc-plain64be, 256, 78, 0, 1024, false",
  })
  void writesWhatTheKernelWouldAndReadsWhatItWrote(String cipher, int keyBits, long ivOffset,
      long offset, int sectorSize, boolean ivLarge) throws Exception {
    Layout l = new Layout(cipher, key(keyBits / 8, keyBits), ivOffset, offset, sectorSize,
        ivLarge);
    MappedDevice d = create(l);
    BlockIo io = new BlockIo(d);
    Random rnd = new Random(ivOffset + offset);
    int step = sectorSize / 512;
    // Writes: small ones, one across the 1 MiB split boundary, and a large one.
    long[][] writes = {{0, step}, {step * 3, step * 2}, {2048 - step * 4, step * 8},
        {2200, 1600}, {LENGTH - step, step}};
    byte[] plain = new byte[LENGTH * 512];
    for (long[] w : writes) {
      byte[] data = new byte[(int) w[1] * 512];
      rnd.nextBytes(data);
      assertEquals(IoStatus.OK, io.write(w[0], data));
      System.arraycopy(data, 0, plain, (int) w[0] * 512, data.length);
    }
    assertEquals(IoStatus.OK, io.flush());
    byte[] disk = Files.readAllBytes(file);
    for (long[] w : writes) {
      for (long s = w[0]; s < w[0] + w[1]; s += step) {
        byte[] unit = Arrays.copyOfRange(plain, (int) s * 512, (int) s * 512 + sectorSize);
        byte[] stored = Arrays.copyOfRange(disk, (int) (l.offset + s) * 512,
            (int) (l.offset + s) * 512 + sectorSize);
        assertArrayEquals(l.crypt(true, s, unit), stored, "ciphertext of sector " + s);
      }
    }

    // The other way: the test encrypts straight into the file, jdm reads plaintext.
    byte[] mine = new byte[256 * 512];
    rnd.nextBytes(mine);
    long at = 1024;
    try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
      for (int i = 0; i < mine.length; i += sectorSize) {
        raf.seek((l.offset + at) * 512 + i);
        raf.write(l.crypt(true, at + i / 512, Arrays.copyOfRange(mine, i, i + sectorSize)));
      }
    }
    assertArrayEquals(mine, io.read(at, mine.length));
    assertArrayEquals(Arrays.copyOfRange(mine, 8192, 8192 + 4096), io.read(at + 16, 4096));
  }

  @Test
  void largeSectorsRefuseRequestsThatAreNotWholeSectors() throws Exception {
    MappedDevice d = create(new Layout("aes-xts-plain64", key(32, 3), 0, 0, 4096, true));
    BlockIo io = new BlockIo(d);
    // The core refuses I/O not aligned to the table's logical block (4096 here) before the target
    // sees it, as the block layer does.
    assertEquals(IoStatus.EINVAL, io.write(1, new byte[4096]));
    assertEquals(IoStatus.EINVAL, io.write(0, new byte[512]));
    assertEquals(IoStatus.EINVAL, io.readStatus(4, 4096));
    assertEquals(IoStatus.OK, io.write(8, new byte[8192]));
    assertEquals(4096, d.limits().logicalBlockSize());
  }

  @Test
  void theCallersBufferIsNotEncryptedInPlace() throws Exception {
    MappedDevice d = create(new Layout("aes-xts-plain64", key(32, 4), 0, 0, 512, false));
    byte[] data = new byte[64 * 1024];
    new Random(5).nextBytes(data);
    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocateDirect(data.length);
    b.put(0, data);
    assertEquals(IoStatus.OK, new BlockIo(d).run(dev.jdm.spi.IoOp.WRITE, 0, 0, data.length, b));
    byte[] after = new byte[data.length];
    b.get(0, after);
    assertArrayEquals(data, after);
  }
}
