package dev.jdm.targets.crypt;

import dev.jdm.targets.crypt.CipherSpec.Chain;
import dev.jdm.targets.crypt.CipherSpec.IvMode;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Arrays;
import javax.crypto.Cipher;
import javax.crypto.ShortBufferException;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * Encrypts and decrypts runs of whole crypto sectors the way dm-crypt does, on one thread: the
 * target keeps one per thread. AES runs through the JDK's {@link Cipher} (AES-NI intrinsics), with
 * one bulk call per request or per sector and never a new cipher per request.
 *
 * <ul>
 *   <li>XTS (IEEE 1619): every sector's IV is encrypted with the second key half in one ECB call
 *       per request, giving the first tweak of each sector; the data is XORed with the tweak
 *       chain (multiplied by x in GF(2^128) per 16-byte block), encrypted with the first key half
 *       in one ECB call per request, and XORed with the chain again.
 *   <li>CBC: one CBC cipher that is never re-initialised; a sector starts from its own IV because
 *       its first block is XORed with the IV and with the chaining value the cipher holds.
 *   <li>ECB and the null cipher: one call per request, or a plain copy.
 * </ul>
 *
 * <p>Data moves between the request's buffer and two scratch arrays with bulk copies; for XTS the
 * request's tweaks are laid out once in a third array and XORed in by plain byte loops, which the
 * JIT turns into vector instructions (element-wise access to a direct buffer is several times
 * slower). Scratch arrays grow to the largest request seen and are then reused:
 * nothing is allocated per request in steady state. The JDK's cipher copies its input when input
 * and output share an array, so every call here reads one scratch array and writes another.
 */
final class SectorCipher {
  private static final VarHandle ARRAY = MethodHandles.byteArrayViewVarHandle(long[].class,
      ByteOrder.LITTLE_ENDIAN);
  private static final int BLOCK = 16;

  private final CipherSpec spec;
  private final int sectorSize;
  private Cipher encrypt;
  private Cipher decrypt;
  /** XTS: the tweak key's ECB. CBC with ESSIV: the ESSIV cipher's ECB. Else null. */
  private Cipher ivCipher;
  private Object keyedWith;
  private byte[] in = new byte[0];
  private byte[] out = new byte[0];
  private byte[] ivs = new byte[0];
  private byte[] tweaks = new byte[0];
  /** XTS: the tweak of every block of the request, XORed in before and after the cipher. */
  private byte[] stream = new byte[0];
  /** CBC: the chaining value each cipher holds, its last ciphertext block (low, high). */
  private long encLo;
  private long encHi;
  private long decLo;
  private long decHi;

  SectorCipher(CipherSpec spec, int sectorSize) {
    this.spec = spec;
    this.sectorSize = sectorSize;
  }

  /** Keys the ciphers with {@code key} unless they already are (same object). */
  void key(Object identity, byte[] key) {
    if (keyedWith == identity) {
      return;
    }
    try {
      if (spec.cipher().equals("cipher_null")) {
        keyedWith = identity;
        return;
      }
      switch (spec.chain()) {
        case XTS -> {
          int half = key.length / 2;
          SecretKeySpec k1 = new SecretKeySpec(key, 0, half, "AES");
          SecretKeySpec k2 = new SecretKeySpec(key, half, half, "AES");
          encrypt = ecb(Cipher.ENCRYPT_MODE, k1);
          decrypt = ecb(Cipher.DECRYPT_MODE, k1);
          ivCipher = ecb(Cipher.ENCRYPT_MODE, k2);
        }
        case CBC -> {
          SecretKeySpec k = new SecretKeySpec(key, "AES");
          IvParameterSpec zero = new IvParameterSpec(new byte[BLOCK]);
          encrypt = Cipher.getInstance("AES/CBC/NoPadding");
          encrypt.init(Cipher.ENCRYPT_MODE, k, zero);
          decrypt = Cipher.getInstance("AES/CBC/NoPadding");
          decrypt.init(Cipher.DECRYPT_MODE, k, zero);
          encLo = encHi = decLo = decHi = 0;
          if (spec.iv() == IvMode.ESSIV) {
            byte[] salt = MessageDigest.getInstance("SHA-256").digest(key);
            ivCipher = ecb(Cipher.ENCRYPT_MODE, new SecretKeySpec(salt, "AES"));
            Arrays.fill(salt, (byte) 0);
          }
        }
        case ECB -> {
          SecretKeySpec k = new SecretKeySpec(key, "AES");
          encrypt = ecb(Cipher.ENCRYPT_MODE, k);
          decrypt = ecb(Cipher.DECRYPT_MODE, k);
        }
      }
      keyedWith = identity;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("the JDK lacks AES: " + e, e);
    }
  }

  private static Cipher ecb(int mode, SecretKeySpec key) throws GeneralSecurityException {
    Cipher c = Cipher.getInstance("AES/ECB/NoPadding");
    c.init(mode, key);
    return c;
  }

  /**
   * Encrypts {@code len} bytes (whole crypto sectors) from {@code src} at {@code srcOff} into
   * {@code dst} at {@code dstOff}; {@code src} is left as it was.
   *
   * @param iv the IV sector number of the first crypto sector
   * @param ivStep how much the IV sector number grows from one crypto sector to the next
   */
  void encrypt(ByteBuffer src, int srcOff, ByteBuffer dst, int dstOff, int len, long iv,
      long ivStep) {
    crypt(true, src, srcOff, dst, dstOff, len, iv, ivStep);
  }

  /** Decrypts {@code len} bytes of {@code buf} at {@code off} in place; IVs as for encrypt. */
  void decrypt(ByteBuffer buf, int off, int len, long iv, long ivStep) {
    crypt(false, buf, off, buf, off, len, iv, ivStep);
  }

  private void crypt(boolean enc, ByteBuffer src, int srcOff, ByteBuffer dst, int dstOff, int len,
      long iv, long ivStep) {
    if (spec.cipher().equals("cipher_null")) {
      if (src != dst || srcOff != dstOff) {
        dst.put(dstOff, src, srcOff, len);
      }
      return;
    }
    grow(len);
    int sectors = len / sectorSize;
    src.get(srcOff, in, 0, len);
    switch (spec.chain()) {
      case XTS -> {
        sectorIvs(sectors, iv, ivStep);
        tweakStream(len);
        xor(in, stream, len);
        bulk(enc ? encrypt : decrypt, in, out, len);
        xor(out, stream, len);
      }
      case CBC -> {
        if (enc) {
          cbcEncrypt(sectors, sectorIvs(sectors, iv, ivStep));
        } else {
          cbcDecrypt(sectors, sectorIvs(sectors, iv, ivStep), len);
        }
      }
      case ECB -> bulk(enc ? encrypt : decrypt, in, out, len);
    }
    dst.put(dstOff, out, 0, len);
  }

  /** CBC, one sector per call: the cipher chains from its last block, swapped for the IV. */
  private void cbcEncrypt(int sectors, byte[] ivBlocks) {
    for (int s = 0, p = 0; s < sectors; s++, p += sectorSize) {
      xorBlock(in, p, (long) ARRAY.get(ivBlocks, s * BLOCK) ^ encLo,
          (long) ARRAY.get(ivBlocks, s * BLOCK + 8) ^ encHi);
      bulk(encrypt, in, out, p, sectorSize);
      encLo = (long) ARRAY.get(out, p + sectorSize - BLOCK);
      encHi = (long) ARRAY.get(out, p + sectorSize - 8);
    }
  }

  /**
   * CBC, one call for the whole request: each sector's first block comes out XORed with the block
   * before it (or the cipher's chaining value), which is swapped for the sector's IV.
   */
  private void cbcDecrypt(int sectors, byte[] ivBlocks, int len) {
    long prevLo = decLo;
    long prevHi = decHi;
    bulk(decrypt, in, out, len);
    for (int s = 0, p = 0; s < sectors; s++, p += sectorSize) {
      xorBlock(out, p, (long) ARRAY.get(ivBlocks, s * BLOCK) ^ prevLo,
          (long) ARRAY.get(ivBlocks, s * BLOCK + 8) ^ prevHi);
      prevLo = (long) ARRAY.get(in, p + sectorSize - BLOCK);
      prevHi = (long) ARRAY.get(in, p + sectorSize - 8);
    }
    decLo = prevLo;
    decHi = prevHi;
  }

  /**
   * Fills {@link #tweaks} with each sector's IV, encrypted by the IV cipher when there is one: for
   * XTS the sectors' first tweaks, for CBC with ESSIV the ESSIV values.
   */
  private byte[] sectorIvs(int sectors, long iv, long ivStep) {
    byte[] plain = ivCipher == null ? tweaks : ivs;
    for (int s = 0; s < sectors; s++, iv += ivStep) {
      int p = s * BLOCK;
      long lo = 0;
      long hi = 0;
      switch (spec.iv()) {
        case PLAIN -> lo = iv & 0xffffffffL;
        case PLAIN64, ESSIV -> lo = iv;
        case PLAIN64BE -> hi = Long.reverseBytes(iv);
        case NULL, NONE -> { }
      }
      ARRAY.set(plain, p, lo);
      ARRAY.set(plain, p + 8, hi);
    }
    if (ivCipher != null) {
      bulk(ivCipher, ivs, tweaks, sectors * BLOCK);
    }
    return tweaks;
  }

  /** Fills {@link #stream} with every block's tweak: each sector's chain from its first tweak. */
  private void tweakStream(int len) {
    int blocks = sectorSize / BLOCK;
    byte[] t = stream;
    int p = 0;
    for (int s = 0; p < len; s++) {
      long lo = (long) ARRAY.get(tweaks, s * BLOCK);
      long hi = (long) ARRAY.get(tweaks, s * BLOCK + 8);
      for (int b = 0; b < blocks; b++, p += BLOCK) {
        ARRAY.set(t, p, lo);
        ARRAY.set(t, p + 8, hi);
        long carry = (hi >> 63) & 0x87;
        hi = (hi << 1) | (lo >>> 63);
        lo = (lo << 1) ^ carry;
      }
    }
  }

  /** {@code a[i] ^= b[i]}: a plain loop the JIT turns into vector instructions. */
  private static void xor(byte[] a, byte[] b, int len) {
    for (int i = 0; i < len; i++) {
      a[i] ^= b[i];
    }
  }

  private static void xorBlock(byte[] a, int p, long lo, long hi) {
    ARRAY.set(a, p, (long) ARRAY.get(a, p) ^ lo);
    ARRAY.set(a, p + 8, (long) ARRAY.get(a, p + 8) ^ hi);
  }

  private static void bulk(Cipher c, byte[] from, byte[] to, int len) {
    bulk(c, from, to, 0, len);
  }

  private static void bulk(Cipher c, byte[] from, byte[] to, int off, int len) {
    try {
      if (c.update(from, off, len, to, off) != len) {
        throw new IllegalStateException("the cipher kept back part of a block run");
      }
    } catch (ShortBufferException e) {
      throw new IllegalStateException(e);
    }
  }

  private void grow(int len) {
    if (in.length < len) {
      in = new byte[len];
      out = new byte[len];
      stream = spec.chain() == Chain.XTS ? new byte[len] : stream;
    }
    int ivBytes = len / sectorSize * BLOCK;
    if (tweaks.length < ivBytes) {
      ivs = new byte[ivBytes];
      tweaks = new byte[ivBytes];
    }
  }
}
