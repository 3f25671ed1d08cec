package dev.jdm.testkit;

import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Arrays;
import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * Sector encryption for tests of encrypting targets, written from IEEE 1619 and dm-crypt's IV
 * rules and sharing nothing with any target: XTS one AES block at a time with the tweak doubled
 * byte by byte, CBC through the JDK's CBC cipher initialised per sector. Slow on purpose: plain.
 */
public final class ReferenceCipher {
  private ReferenceCipher() {}

  /** The 16-byte plain64 IV of {@code sector}: little-endian, zero-padded. */
  public static byte[] plain64(long sector) {
    byte[] iv = new byte[16];
    for (int i = 0; i < 8; i++) {
      iv[i] = (byte) (sector >>> (8 * i));
    }
    return iv;
  }

  /** XTS-AES of one data unit ({@code unit.length} a multiple of 16) with the given IV. */
  public static byte[] xts(boolean encrypt, byte[] key, byte[] iv, byte[] unit)
      throws GeneralSecurityException {
    int half = key.length / 2;
    Cipher data = Cipher.getInstance("AES/ECB/NoPadding");
    data.init(encrypt ? Cipher.ENCRYPT_MODE : Cipher.DECRYPT_MODE,
        new SecretKeySpec(Arrays.copyOfRange(key, 0, half), "AES"));
    Cipher tweakCipher = Cipher.getInstance("AES/ECB/NoPadding");
    tweakCipher.init(Cipher.ENCRYPT_MODE,
        new SecretKeySpec(Arrays.copyOfRange(key, half, key.length), "AES"));
    byte[] t = tweakCipher.doFinal(iv);
    byte[] out = new byte[unit.length];
    for (int j = 0; j < unit.length; j += 16) {
      byte[] block = new byte[16];
      for (int i = 0; i < 16; i++) {
        block[i] = (byte) (unit[j + i] ^ t[i]);
      }
      block = data.doFinal(block);
      for (int i = 0; i < 16; i++) {
        out[j + i] = (byte) (block[i] ^ t[i]);
      }
      // Multiply the tweak by x in GF(2^128), IEEE 1619's byte-wise rule.
      int carry = 0;
      for (int i = 0; i < 16; i++) {
        int b = t[i] & 0xff;
        t[i] = (byte) ((b << 1) | carry);
        carry = b >>> 7;
      }
      if (carry != 0) {
        t[0] ^= (byte) 0x87;
      }
    }
    return out;
  }

  /** AES-CBC of one sector with the IV the ESSIV rule makes from {@code sector}. */
  public static byte[] cbcEssiv(boolean encrypt, byte[] key, long sector, byte[] unit)
      throws GeneralSecurityException {
    Cipher essiv = Cipher.getInstance("AES/ECB/NoPadding");
    essiv.init(Cipher.ENCRYPT_MODE,
        new SecretKeySpec(MessageDigest.getInstance("SHA-256").digest(key), "AES"));
    return cbc(encrypt, key, essiv.doFinal(plain64(sector)), unit);
  }

  /** AES-CBC of one sector with {@code iv}. */
  public static byte[] cbc(boolean encrypt, byte[] key, byte[] iv, byte[] unit)
      throws GeneralSecurityException {
    Cipher c = Cipher.getInstance("AES/CBC/NoPadding");
    c.init(encrypt ? Cipher.ENCRYPT_MODE : Cipher.DECRYPT_MODE, new SecretKeySpec(key, "AES"),
        new IvParameterSpec(iv));
    return c.doFinal(unit);
  }
}
