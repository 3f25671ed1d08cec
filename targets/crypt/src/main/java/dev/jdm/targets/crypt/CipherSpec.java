package dev.jdm.targets.crypt;

import dev.jdm.spi.TargetException;

/**
 * A crypt table's {@code <cipher>} argument, read the way dm-crypt reads it: either the legacy
 * {@code cipher[:keycount]-chainmode-ivmode[:ivopts]} or the crypto-API
 * {@code capi:chainmode(cipher)-ivmode[:ivopts]}. jdm implements AES in XTS, CBC and ECB, and the
 * null cipher in ECB; with the IV modes plain, plain64, plain64be, essiv:sha256 and null.
 *
 * @param chain the block-chaining mode
 * @param cipher {@code aes}, or {@code cipher_null} (which encrypts nothing)
 * @param iv how each sector's IV is made; {@link IvMode#NONE} for ECB
 */
record CipherSpec(Chain chain, String cipher, IvMode iv) {
  /** Block-chaining modes. */
  enum Chain {
    XTS,
    CBC,
    ECB
  }

  /** IV generators (dm-crypt's {@code iv_gen_ops}) jdm implements. */
  enum IvMode {
    /** No IV: ECB. */
    NONE,
    /** The sector number, 32 bits little-endian, zero-padded. */
    PLAIN,
    /** The sector number, 64 bits little-endian, zero-padded. */
    PLAIN64,
    /** The sector number, 64 bits big-endian, in the IV's last 8 bytes. */
    PLAIN64BE,
    /** plain64 encrypted with AES keyed by SHA-256 of the volume key. */
    ESSIV,
    /** All zeros. */
    NULL
  }

  /** Reads {@code text}; refuses with dm-crypt's phrases. */
  static CipherSpec parse(String text) throws TargetException {
    String api;
    String ivmode;
    String ivopts = null;
    if (text.startsWith("capi:")) {
      // capi:api-ivmode[:ivopts]; the IV options are split off first, at the last ':'.
      String rest = text.substring(5);
      int colon = rest.lastIndexOf(':');
      if (colon >= 0) {
        ivopts = rest.substring(colon + 1);
        rest = rest.substring(0, colon);
      }
      int dash = rest.lastIndexOf('-');
      ivmode = dash >= 0 ? rest.substring(dash + 1) : null;
      api = dash >= 0 ? rest.substring(0, dash) : rest;
    } else {
      if (text.indexOf('(') >= 0) {
        throw new TargetException("Bad cipher specification");
      }
      String[] parts = text.split("-", 3);
      String cipher = parts[0];
      int colon = cipher.indexOf(':');
      if (colon >= 0) {
        String count = cipher.substring(colon + 1);
        cipher = cipher.substring(0, colon);
        if (!count.matches("[0-9]{1,9}") || Integer.bitCount(Integer.parseInt(count)) != 1) {
          throw new TargetException("Bad cipher key count specification");
        }
        if (!count.equals("1")) {
          throw new TargetException("Multi-key mode not supported");
        }
      }
      String chainmode = parts.length > 1 ? parts[1] : null;
      ivmode = null;
      if (parts.length > 2) {
        int c = parts[2].indexOf(':');
        ivmode = c >= 0 ? parts[2].substring(0, c) : parts[2];
        ivopts = c >= 0 ? parts[2].substring(c + 1) : null;
      }
      // The original dm-crypt format: a cipher alone, or cipher-plain, means cbc-plain.
      if (chainmode == null || (chainmode.equals("plain") && ivmode == null)) {
        chainmode = "cbc";
        ivmode = "plain";
      }
      if (!chainmode.equals("ecb") && ivmode == null) {
        throw new TargetException("IV mechanism required");
      }
      api = chainmode + "(" + cipher + ")";
    }
    if ("essiv".equals(ivmode) && ivopts == null) {
      throw new TargetException("Digest algorithm missing for ESSIV mode");
    }
    Chain chain = switch (api) {
      case "xts(aes)" -> Chain.XTS;
      case "cbc(aes)" -> Chain.CBC;
      case "ecb(aes)", "ecb(cipher_null)" -> Chain.ECB;
      default -> throw new TargetException("Error allocating crypto tfm");
    };
    String cipher = api.substring(4, api.length() - 1);
    if (chain == Chain.ECB) {
      // A cipher without IVs ignores an IV mode, as the kernel does (with a warning).
      return new CipherSpec(chain, cipher, IvMode.NONE);
    }
    if (ivmode == null) {
      throw new TargetException("IV mechanism required");
    }
    IvMode iv = switch (ivmode) {
      case "plain" -> IvMode.PLAIN;
      case "plain64" -> IvMode.PLAIN64;
      case "plain64be" -> IvMode.PLAIN64BE;
      case "null" -> IvMode.NULL;
      case "essiv" -> IvMode.ESSIV;
      default -> throw new TargetException("Invalid IV mode");
    };
    if (iv == IvMode.ESSIV && (chain != Chain.CBC || !ivopts.equals("sha256"))) {
      throw new TargetException("Error allocating crypto tfm");
    }
    return new CipherSpec(chain, cipher, iv);
  }

  /** Whether {@code bytes} is a key length the cipher takes. */
  boolean keyLengthValid(int bytes) {
    if (cipher.equals("cipher_null")) {
      return bytes == 0;
    }
    int aes = chain == Chain.XTS ? bytes / 2 : bytes;
    return (chain != Chain.XTS || bytes % 2 == 0) && (aes == 16 || aes == 24 || aes == 32);
  }
}
