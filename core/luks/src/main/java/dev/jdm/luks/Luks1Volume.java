package dev.jdm.luks;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A LUKS1 volume: the 592-byte big-endian header of the LUKS1 on-disk format, eight keyslots
 * derived with PBKDF2, and a 20-byte PBKDF2 digest of the volume key.
 */
final class Luks1Volume implements LuksVolume {
  private static final int HEADER = 592;
  private static final int SLOT_ACTIVE = 0x00AC71F3;
  private static final int SLOTS = 8;

  private final Path image;
  private final String cipherName;
  private final String cipherMode;
  private final String hash;
  private final long payloadOffset;
  private final int keyBytes;
  private final byte[] mkDigest;
  private final byte[] mkDigestSalt;
  private final long mkDigestIterations;
  private final String uuid;
  private final List<Slot> slots;

  private record Slot(int index, boolean active, long iterations, byte[] salt, long materialOffset,
      int stripes) {}

  private Luks1Volume(ByteBuffer h, Path image) throws LuksException {
    this.image = image;
    this.cipherName = text(h, 8, 32);
    this.cipherMode = text(h, 40, 32);
    this.hash = text(h, 72, 32);
    this.payloadOffset = h.getInt(104) & 0xffffffffL;
    this.keyBytes = h.getInt(108);
    this.mkDigest = bytes(h, 112, 20);
    this.mkDigestSalt = bytes(h, 132, 32);
    this.mkDigestIterations = h.getInt(164) & 0xffffffffL;
    this.uuid = text(h, 168, 40);
    if (keyBytes <= 0 || keyBytes > 512) {
      throw new LuksException("LUKS1 header has a bad key size " + keyBytes);
    }
    List<Slot> s = new ArrayList<>();
    for (int i = 0; i < SLOTS; i++) {
      int at = 208 + i * 48;
      s.add(new Slot(i, h.getInt(at) == SLOT_ACTIVE, h.getInt(at + 4) & 0xffffffffL,
          bytes(h, at + 8, 32), h.getInt(at + 40) & 0xffffffffL, h.getInt(at + 44)));
    }
    this.slots = List.copyOf(s);
  }

  static Luks1Volume read(FileChannel ch, Path image) throws IOException, LuksException {
    return new Luks1Volume(ByteBuffer.wrap(Image.read(ch, 0, HEADER)), image);
  }

  private static String text(ByteBuffer h, int at, int len) {
    byte[] b = bytes(h, at, len);
    int n = 0;
    while (n < len && b[n] != 0) {
      n++;
    }
    return new String(b, 0, n, StandardCharsets.US_ASCII);
  }

  private static byte[] bytes(ByteBuffer h, int at, int len) {
    byte[] b = new byte[len];
    h.get(at, b);
    return b;
  }

  @Override
  public int version() {
    return 1;
  }

  @Override
  public String uuid() {
    return uuid;
  }

  @Override
  public Segment segment() {
    return new Segment(cipherName + "-" + cipherMode, keyBytes, payloadOffset * 512, -1, 0, 512,
        List.of());
  }

  @Override
  public byte[] unlock(byte[] passphrase) throws LuksException, IOException {
    for (Slot s : slots) {
      if (!s.active) {
        continue;
      }
      if (s.stripes < 1 || (long) s.stripes * keyBytes > 64L << 20) {
        throw new LuksException("LUKS1 keyslot " + s.index + " has a bad stripe count");
      }
      byte[] slotKey = Kdf.pbkdf2(hash, passphrase, s.salt, s.iterations, keyBytes);
      int length = s.stripes * keyBytes;
      int sectors = (length + 511) / 512;
      byte[] material = AreaCipher.decrypt(segment().cipher(), slotKey,
          Image.read(image, s.materialOffset * 512, sectors * 512));
      Arrays.fill(slotKey, (byte) 0);
      byte[] key = Kdf.afMerge(material, keyBytes, s.stripes, hash);
      Arrays.fill(material, (byte) 0);
      byte[] check = Kdf.pbkdf2(hash, key, mkDigestSalt, mkDigestIterations, 20);
      if (MessageDigest.isEqual(check, mkDigest)) {
        return key;
      }
      Arrays.fill(key, (byte) 0);
    }
    throw new NoKeyException();
  }

  @Override
  public String dump() {
    StringBuilder d = new StringBuilder();
    d.append("LUKS header information\n\n");
    d.append(String.format("Version:       \t1%n"));
    d.append(String.format("Cipher name:   \t%s%n", cipherName));
    d.append(String.format("Cipher mode:   \t%s%n", cipherMode));
    d.append(String.format("Hash spec:     \t%s%n", hash));
    d.append(String.format("Payload offset:\t%d%n", payloadOffset));
    d.append(String.format("MK bits:       \t%d%n", keyBytes * 8));
    d.append(String.format("MK iterations: \t%d%n", mkDigestIterations));
    d.append(String.format("UUID:          \t%s%n%n", uuid));
    for (Slot s : slots) {
      d.append(String.format("Key Slot %d: %s%n", s.index, s.active ? "ENABLED" : "DISABLED"));
      if (s.active) {
        d.append(String.format("\tIterations:         \t%d%n", s.iterations));
        d.append(String.format("\tKey material offset:\t%d%n", s.materialOffset));
        d.append(String.format("\tAF stripes:         \t%d%n", s.stripes));
      }
    }
    return d.toString();
  }
}
