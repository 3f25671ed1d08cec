package dev.jdm.luks;

import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Arrays;
import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * Decrypts a keyslot's key material the way cryptsetup reads it through dm-crypt: 512-byte sectors
 * numbered from 0 at the start of the area, with the keyslot's cipher in dm-crypt's spelling
 * ({@code aes-xts-plain64}, {@code aes-cbc-essiv:sha256}, {@code aes-cbc-plain}, ...).
 */
final class AreaCipher {
  private static final int SECTOR = 512;

  private AreaCipher() {}

  static byte[] decrypt(String spec, byte[] key, byte[] area) throws LuksException {
    String[] p = spec.split("-", 3);
    String mode = p.length > 1 ? p[1] : "cbc";
    String iv = p.length > 2 ? p[2] : "plain";
    if (!p[0].equals("aes") || area.length % SECTOR != 0) {
      throw new LuksException("keyslot cipher " + spec + " is not supported");
    }
    try {
      byte[] out = new byte[area.length];
      switch (mode) {
        case "xts" -> xts(key, iv, area, out, spec);
        case "cbc" -> cbc(key, iv, area, out, spec);
        case "ecb" -> {
          Cipher c = Cipher.getInstance("AES/ECB/NoPadding");
          c.init(Cipher.DECRYPT_MODE, new SecretKeySpec(key, "AES"));
          c.doFinal(area, 0, area.length, out, 0);
        }
        default -> throw new LuksException("keyslot cipher " + spec + " is not supported");
      }
      return out;
    } catch (GeneralSecurityException | IllegalArgumentException e) {
      throw new LuksException("keyslot cipher " + spec + " cannot use this key: " + e.getMessage(),
          e);
    }
  }

  /** The IV of sector {@code s} before any encryption of it. */
  private static byte[] iv(String mode, long s, String spec) throws LuksException {
    byte[] iv = new byte[16];
    long v = switch (mode) {
      case "plain" -> s & 0xffffffffL;
      case "plain64", "essiv:sha256", "plain64be" -> s;
      case "null" -> 0;
      default -> throw new LuksException("keyslot cipher " + spec + " is not supported");
    };
    for (int i = 0; i < 8; i++) {
      if (mode.equals("plain64be")) {
        iv[15 - i] = (byte) (v >>> (8 * i));
      } else {
        iv[i] = (byte) (v >>> (8 * i));
      }
    }
    return iv;
  }

  private static void xts(byte[] key, String ivMode, byte[] in, byte[] out, String spec)
      throws GeneralSecurityException, LuksException {
    int half = key.length / 2;
    Cipher data = Cipher.getInstance("AES/ECB/NoPadding");
    data.init(Cipher.DECRYPT_MODE, new SecretKeySpec(key, 0, half, "AES"));
    Cipher tweak = Cipher.getInstance("AES/ECB/NoPadding");
    tweak.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, half, half, "AES"));
    byte[] t = new byte[16];
    byte[] work = new byte[SECTOR];
    byte[] tweaks = new byte[SECTOR];
    for (int at = 0; at < in.length; at += SECTOR) {
      tweak.doFinal(iv(ivMode, at / SECTOR, spec), 0, 16, t, 0);
      for (int b = 0; b < SECTOR; b += 16) {
        System.arraycopy(t, 0, tweaks, b, 16);
        int carry = (t[15] & 0x80) != 0 ? 0x87 : 0;
        for (int i = 15; i > 0; i--) {
          t[i] = (byte) ((t[i] << 1) | ((t[i - 1] & 0xff) >>> 7));
        }
        t[0] = (byte) ((t[0] << 1) ^ carry);
      }
      for (int i = 0; i < SECTOR; i++) {
        work[i] = (byte) (in[at + i] ^ tweaks[i]);
      }
      data.doFinal(work, 0, SECTOR, out, at);
      for (int i = 0; i < SECTOR; i++) {
        out[at + i] ^= tweaks[i];
      }
    }
  }

  private static void cbc(byte[] key, String ivMode, byte[] in, byte[] out, String spec)
      throws GeneralSecurityException, LuksException {
    SecretKeySpec k = new SecretKeySpec(key, "AES");
    Cipher essiv = null;
    if (ivMode.equals("essiv:sha256")) {
      byte[] salt = MessageDigest.getInstance("SHA-256").digest(key);
      essiv = Cipher.getInstance("AES/ECB/NoPadding");
      essiv.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(salt, "AES"));
      Arrays.fill(salt, (byte) 0);
    }
    Cipher c = Cipher.getInstance("AES/CBC/NoPadding");
    for (int at = 0; at < in.length; at += SECTOR) {
      byte[] iv = iv(ivMode, at / SECTOR, spec);
      if (essiv != null) {
        iv = essiv.doFinal(iv);
      }
      c.init(Cipher.DECRYPT_MODE, k, new IvParameterSpec(iv));
      c.doFinal(in, at, SECTOR, out, at);
    }
  }
}
