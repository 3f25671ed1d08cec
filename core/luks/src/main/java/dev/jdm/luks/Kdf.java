package dev.jdm.luks;

import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Locale;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.bouncycastle.crypto.Digest;
import org.bouncycastle.crypto.digests.RIPEMD160Digest;
import org.bouncycastle.crypto.digests.WhirlpoolDigest;
import org.bouncycastle.crypto.generators.Argon2BytesGenerator;
import org.bouncycastle.crypto.macs.HMac;
import org.bouncycastle.crypto.params.Argon2Parameters;
import org.bouncycastle.crypto.params.KeyParameter;

/**
 * The key derivations and the anti-forensic merge of LUKS, by the hash names cryptsetup writes
 * ({@code sha1}, {@code sha256}, {@code sha512}, {@code ripemd160}, ...). PBKDF2 runs on the
 * JDK's HMAC where it has the hash; Argon2 and the hashes the JDK lacks come from Bouncy Castle.
 */
final class Kdf {
  private Kdf() {}

  /** A keyed PRF: HMAC with one hash, reused for every block. */
  private interface Prf {
    int length();

    void update(byte[] b, int off, int len);

    void finish(byte[] out);
  }

  /** PBKDF2 (RFC 8018) with HMAC-{@code hash}: {@code length} bytes. */
  static byte[] pbkdf2(String hash, byte[] password, byte[] salt, long iterations, int length)
      throws LuksException {
    if (iterations < 1) {
      throw new LuksException("PBKDF2 iterations must be at least 1");
    }
    Prf prf = hmac(hash, password);
    int h = prf.length();
    byte[] out = new byte[length];
    byte[] u = new byte[h];
    byte[] t = new byte[h];
    byte[] counter = new byte[4];
    for (int block = 1, done = 0; done < length; block++, done += h) {
      counter[0] = (byte) (block >>> 24);
      counter[1] = (byte) (block >>> 16);
      counter[2] = (byte) (block >>> 8);
      counter[3] = (byte) block;
      prf.update(salt, 0, salt.length);
      prf.update(counter, 0, 4);
      prf.finish(u);
      System.arraycopy(u, 0, t, 0, h);
      for (long i = 1; i < iterations; i++) {
        prf.update(u, 0, h);
        prf.finish(u);
        for (int j = 0; j < h; j++) {
          t[j] ^= u[j];
        }
      }
      System.arraycopy(t, 0, out, done, Math.min(h, length - done));
    }
    Arrays.fill(t, (byte) 0);
    Arrays.fill(u, (byte) 0);
    return out;
  }

  private static Prf hmac(String hash, byte[] key) throws LuksException {
    String jdk = jdkName(hash);
    if (jdk != null && key.length > 0) {
      try {
        String name = "Hmac" + jdk.replace("-", "");
        Mac mac = Mac.getInstance(name);
        mac.init(new SecretKeySpec(key, name));
        return new Prf() {
          public int length() {
            return mac.getMacLength();
          }

          public void update(byte[] b, int off, int len) {
            mac.update(b, off, len);
          }

          public void finish(byte[] out) {
            try {
              mac.doFinal(out, 0);
            } catch (GeneralSecurityException e) {
              throw new IllegalStateException(e);
            }
          }
        };
      } catch (GeneralSecurityException e) {
        // Not in this JDK after all: Bouncy Castle's below.
      }
    }
    HMac mac = new HMac(digest(hash));
    mac.init(new KeyParameter(key));
    return new Prf() {
      public int length() {
        return mac.getMacSize();
      }

      public void update(byte[] b, int off, int len) {
        mac.update(b, off, len);
      }

      public void finish(byte[] out) {
        mac.doFinal(out, 0);
      }
    };
  }

  /** Argon2i or Argon2id (version 1.3) with the LUKS2 keyslot's cost parameters. */
  static byte[] argon2(String type, byte[] password, byte[] salt, int time, int memoryKib,
      int lanes, int length) throws LuksException {
    int kind = switch (type) {
      case "argon2i" -> Argon2Parameters.ARGON2_i;
      case "argon2id" -> Argon2Parameters.ARGON2_id;
      default -> throw new LuksException("key derivation " + type + " is not supported");
    };
    if (time < 1 || lanes < 1 || memoryKib < 8 * lanes) {
      throw new LuksException("Argon2 parameters out of range");
    }
    Argon2BytesGenerator g = new Argon2BytesGenerator();
    g.init(new Argon2Parameters.Builder(kind).withVersion(Argon2Parameters.ARGON2_VERSION_13)
        .withIterations(time).withMemoryAsKB(memoryKib).withParallelism(lanes).withSalt(salt)
        .build());
    byte[] out = new byte[length];
    g.generateBytes(password, out);
    return out;
  }

  /**
   * The anti-forensic merge: {@code stripes} blocks of {@code keyBytes} folded into one key, each
   * but the last XORed in and diffused with {@code hash}.
   */
  static byte[] afMerge(byte[] material, int keyBytes, int stripes, String hash)
      throws LuksException {
    if (stripes < 1 || (long) keyBytes * stripes > material.length) {
      throw new LuksException("keyslot area is shorter than its stripes");
    }
    Digest d = digest(hash);
    byte[] key = new byte[keyBytes];
    for (int s = 0; s < stripes; s++) {
      for (int i = 0; i < keyBytes; i++) {
        key[i] ^= material[s * keyBytes + i];
      }
      if (s < stripes - 1) {
        diffuse(d, key);
      }
    }
    return key;
  }

  /** Replaces each digest-sized piece of {@code buf} by the hash of its index and itself. */
  private static void diffuse(Digest d, byte[] buf) {
    int h = d.getDigestSize();
    byte[] out = new byte[h];
    for (int i = 0, at = 0; at < buf.length; i++, at += h) {
      int n = Math.min(h, buf.length - at);
      d.update((byte) (i >>> 24));
      d.update((byte) (i >>> 16));
      d.update((byte) (i >>> 8));
      d.update((byte) i);
      d.update(buf, at, n);
      d.doFinal(out, 0);
      System.arraycopy(out, 0, buf, at, n);
    }
  }

  /** The hash called {@code name} in a LUKS header. */
  static Digest digest(String name) throws LuksException {
    String n = name.toLowerCase(Locale.ROOT);
    return switch (n) {
      case "ripemd160" -> new RIPEMD160Digest();
      case "whirlpool" -> new WhirlpoolDigest();
      default -> {
        String jdk = jdkName(n);
        if (jdk == null) {
          throw new LuksException("hash " + name + " is not supported");
        }
        try {
          yield new JdkDigest(MessageDigest.getInstance(jdk));
        } catch (GeneralSecurityException e) {
          throw new LuksException("hash " + name + " is not supported", e);
        }
      }
    };
  }

  /** The JDK's name of a LUKS hash, or null. */
  static String jdkName(String luks) {
    return switch (luks.toLowerCase(Locale.ROOT)) {
      case "sha1" -> "SHA-1";
      case "sha224" -> "SHA-224";
      case "sha256" -> "SHA-256";
      case "sha384" -> "SHA-384";
      case "sha512" -> "SHA-512";
      case "sha3-256" -> "SHA3-256";
      case "sha3-512" -> "SHA3-512";
      default -> null;
    };
  }

  /** A JDK MessageDigest seen as a Bouncy Castle Digest. */
  private record JdkDigest(MessageDigest md) implements Digest {
    public String getAlgorithmName() {
      return md.getAlgorithm();
    }

    public int getDigestSize() {
      return md.getDigestLength();
    }

    public void update(byte in) {
      md.update(in);
    }

    public void update(byte[] in, int off, int len) {
      md.update(in, off, len);
    }

    public int doFinal(byte[] out, int off) {
      try {
        return md.digest(out, off, md.getDigestLength());
      } catch (GeneralSecurityException e) {
        throw new IllegalStateException(e);
      }
    }

    public void reset() {
      md.reset();
    }
  }
}
