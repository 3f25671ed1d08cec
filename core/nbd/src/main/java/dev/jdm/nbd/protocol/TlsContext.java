package dev.jdm.nbd.protocol;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.net.Socket;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.InvalidKeySpecException;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * Builds {@link SSLContext}s from PEM files, as nbdkit, qemu and libnbd take them: a certificate
 * chain, an unencrypted private key, and optionally the CA the peer's certificate must chain to.
 * The NBD server uses {@link #server}; the NBD client of remote backing devices {@link #client}.
 */
public final class TlsContext {
  private static final Pattern PEM_KEY = Pattern.compile(
      "-----BEGIN (RSA |EC )?PRIVATE KEY-----([A-Za-z0-9+/=\\s]+)-----END \\1?PRIVATE KEY-----");
  private static final char[] NO_PASSWORD = new char[0];

  private TlsContext() {}

  /**
   * The server's context: its {@code certificate} chain and {@code key}, and when {@code trust} is
   * not null the CA that client certificates must chain to. The message of the exception names the
   * file that failed.
   */
  public static SSLContext server(Path certificate, Path key, Path trust)
      throws IOException, GeneralSecurityException {
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(keyManagers(certificate, key), trust == null ? null
        : new TrustManager[] {new UnnamedIssuers(trusted(trust))}, null);
    return context;
  }

  /**
   * A client's context: its own {@code certificate} and {@code key} when both are not null; the
   * server's certificate checked against {@code trust} when not null, else against the JDK's
   * default CAs, or not at all when {@code verifyPeer} is false (libnbd's tls-verify-peer=false).
   */
  public static SSLContext client(Path certificate, Path key, Path trust, boolean verifyPeer)
      throws IOException, GeneralSecurityException {
    TrustManager[] trustManagers = !verifyPeer ? new TrustManager[] {new TrustAnyone()}
        : trust == null ? null : new TrustManager[] {trusted(trust)};
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(certificate == null || key == null ? null : keyManagers(certificate, key),
        trustManagers, null);
    return context;
  }

  private static KeyManager[] keyManagers(Path certificate, Path key)
      throws IOException, GeneralSecurityException {
    List<? extends Certificate> chain = certificates(certificate);
    if (chain.isEmpty()) {
      throw new IOException(certificate + ": no PEM certificate in the file");
    }
    KeyStore keys = KeyStore.getInstance("PKCS12");
    keys.load(null, null);
    keys.setKeyEntry("own", privateKey(key), NO_PASSWORD, chain.toArray(Certificate[]::new));
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(keys, NO_PASSWORD);
    return kmf.getKeyManagers();
  }

  private static X509ExtendedTrustManager trusted(Path trust)
      throws IOException, GeneralSecurityException {
    KeyStore trusted = KeyStore.getInstance("PKCS12");
    trusted.load(null, null);
    int i = 0;
    for (Certificate ca : certificates(trust)) {
      trusted.setCertificateEntry("ca" + i++, ca);
    }
    if (i == 0) {
      throw new IOException(trust + ": no PEM certificate in the file");
    }
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(
        TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trusted);
    for (TrustManager tm : tmf.getTrustManagers()) {
      if (tm instanceof X509ExtendedTrustManager x) {
        return x;
      }
    }
    throw new GeneralSecurityException("no X.509 trust manager in this JDK");
  }

  /** Accepts any server certificate: what a client asked not to verify its peer gets. */
  private static final class TrustAnyone implements X509TrustManager {
    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) {}

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) {}

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return new X509Certificate[0];
    }
  }

  /**
   * Verifies client certificates against the trusted CAs without naming them in the TLS 1.3
   * certificate request: GnuTLS clients (libnbd, qemu) then send no certificate at all when the
   * names do not match byte for byte, though the chain would verify.
   */
  private static final class UnnamedIssuers extends X509ExtendedTrustManager {
    private static final X509Certificate[] NONE = new X509Certificate[0];
    private final X509ExtendedTrustManager trust;

    UnnamedIssuers(X509ExtendedTrustManager trust) {
      this.trust = trust;
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
        throws CertificateException {
      trust.checkClientTrusted(chain, authType, socket);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
        throws CertificateException {
      trust.checkServerTrusted(chain, authType, socket);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      trust.checkClientTrusted(chain, authType, engine);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      trust.checkServerTrusted(chain, authType, engine);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType)
        throws CertificateException {
      trust.checkClientTrusted(chain, authType);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType)
        throws CertificateException {
      trust.checkServerTrusted(chain, authType);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return NONE;
    }
  }

  private static List<? extends Certificate> certificates(Path file)
      throws IOException, GeneralSecurityException {
    try {
      return List.copyOf(CertificateFactory.getInstance("X.509")
          .generateCertificates(new ByteArrayInputStream(Files.readAllBytes(file))));
    } catch (CertificateException e) {
      throw new IOException(file + ": not a PEM certificate file: " + e.getMessage(), e);
    }
  }

  private static PrivateKey privateKey(Path file) throws IOException, GeneralSecurityException {
    Matcher m = PEM_KEY.matcher(Files.readString(file));
    if (!m.find()) {
      throw new IOException(file + ": no unencrypted PEM private key (BEGIN PRIVATE KEY or"
          + " BEGIN RSA PRIVATE KEY) in the file");
    }
    byte[] der = Base64.getMimeDecoder().decode(m.group(2));
    if ("RSA ".equals(m.group(1))) {
      der = pkcs1ToPkcs8(der);
    } else if ("EC ".equals(m.group(1))) {
      throw new IOException(file
          + ": convert the EC key to PKCS#8 (openssl pkcs8 -topk8 -nocrypt)");
    }
    PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(der);
    for (String algorithm : new String[] {"RSA", "EC", "Ed25519", "RSASSA-PSS"}) {
      try {
        return KeyFactory.getInstance(algorithm).generatePrivate(spec);
      } catch (InvalidKeySpecException wrongAlgorithm) {
        // try the next one
      }
    }
    throw new IOException(file + ": unsupported private key type");
  }

  /** Wraps a PKCS#1 RSAPrivateKey in the PKCS#8 PrivateKeyInfo the JDK reads. */
  private static byte[] pkcs1ToPkcs8(byte[] pkcs1) {
    byte[] algorithm = {0x30, 0x0d, 0x06, 0x09, 0x2a, (byte) 0x86, 0x48, (byte) 0x86, (byte) 0xf7,
        0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};
    byte[] version = {0x02, 0x01, 0x00};
    byte[] octets = der(0x04, pkcs1);
    byte[] body = new byte[version.length + algorithm.length + octets.length];
    System.arraycopy(version, 0, body, 0, version.length);
    System.arraycopy(algorithm, 0, body, version.length, algorithm.length);
    System.arraycopy(octets, 0, body, version.length + algorithm.length, octets.length);
    return der(0x30, body);
  }

  private static byte[] der(int tag, byte[] content) {
    int n = content.length;
    byte[] len = n < 0x80 ? new byte[] {(byte) n}
        : n < 0x100 ? new byte[] {(byte) 0x81, (byte) n}
        : n < 0x10000 ? new byte[] {(byte) 0x82, (byte) (n >> 8), (byte) n}
        : new byte[] {(byte) 0x83, (byte) (n >> 16), (byte) (n >> 8), (byte) n};
    byte[] out = new byte[1 + len.length + n];
    out[0] = (byte) tag;
    System.arraycopy(len, 0, out, 1, len.length);
    System.arraycopy(content, 0, out, 1 + len.length, n);
    return out;
  }
}
