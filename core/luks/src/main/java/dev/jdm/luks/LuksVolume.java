package dev.jdm.luks;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * A LUKS1 or LUKS2 volume as cryptsetup writes it, read from its header: what {@code luksDump}
 * shows, the volume key from a passphrase (in user space, as cryptsetup derives it), and the
 * {@code crypt} table line that maps its data segment.
 */
public interface LuksVolume {
  /**
   * The encrypted data segment.
   *
   * @param cipher dm-crypt's cipher spelling, e.g. {@code aes-xts-plain64}
   * @param keyBytes the volume key's length
   * @param offsetBytes where the ciphertext starts in the image
   * @param lengthBytes its length, or -1 for "up to the end of the image"
   * @param ivOffset the crypt table's {@code <iv_offset>} (LUKS2's {@code iv_tweak})
   * @param sectorSize the encryption unit
   * @param flags dm-crypt optional parameters the header asks for (e.g. {@code allow_discards})
   */
  record Segment(String cipher, int keyBytes, long offsetBytes, long lengthBytes, long ivOffset,
      int sectorSize, List<String> flags) {}

  /** Reads the header of {@code image}, a file or a block device. */
  static LuksVolume read(Path image) throws IOException, LuksException {
    try (FileChannel ch = FileChannel.open(image, StandardOpenOption.READ)) {
      ByteBuffer magic = ByteBuffer.allocate(8);
      ch.read(magic, 0);
      byte[] m = magic.array();
      boolean luks = m[0] == 'L' && m[1] == 'U' && m[2] == 'K' && m[3] == 'S'
          && (m[4] & 0xff) == 0xba && (m[5] & 0xff) == 0xbe;
      int version = ((m[6] & 0xff) << 8) | (m[7] & 0xff);
      if (luks && version == 1) {
        return Luks1Volume.read(ch, image);
      }
      if (luks && version == 2 || !luks) {
        // LUKS2 may still be found through its second header when the first is damaged.
        return Luks2Volume.read(ch, image, luks);
      }
      throw new LuksException(image + ": LUKS version " + version + " is not supported");
    }
  }

  /** 1 or 2. */
  int version();

  String uuid();

  /** The data segment. */
  Segment segment();

  /**
   * The volume key that {@code passphrase} unlocks, verified against the header's digest.
   *
   * @throws NoKeyException when no keyslot opens with it
   */
  byte[] unlock(byte[] passphrase) throws LuksException, IOException;

  /** The header as {@code cryptsetup luksDump} shows it, without salts, digests or keys. */
  String dump();

  /**
   * The table that maps the data segment of {@code device} ({@code deviceBytes} long) with
   * {@code key}, as cryptsetup would load it into dm-crypt.
   */
  default String table(byte[] key, String device, long deviceBytes) throws LuksException {
    Segment s = segment();
    long length = s.lengthBytes() >= 0 ? s.lengthBytes() : deviceBytes - s.offsetBytes();
    length -= length % s.sectorSize();
    if (length <= 0 || s.offsetBytes() + length > deviceBytes) {
      throw new LuksException(device + " ends before its LUKS data segment");
    }
    List<String> opts = new ArrayList<>(s.flags());
    if (s.sectorSize() != 512) {
      // cryptsetup counts LUKS IVs in 512-byte sectors whatever the sector size: no
      // iv_large_sectors (that flag is for plain mode and BitLocker).
      opts.add("sector_size:" + s.sectorSize());
    }
    return "0 " + length / 512 + " crypt " + s.cipher() + " " + HexFormat.of().formatHex(key) + " "
        + s.ivOffset() + " " + device + " " + s.offsetBytes() / 512
        + (opts.isEmpty() ? "" : " " + opts.size() + " " + String.join(" ", opts));
  }
}
