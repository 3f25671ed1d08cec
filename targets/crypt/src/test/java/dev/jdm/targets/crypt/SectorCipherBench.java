package dev.jdm.targets.crypt;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.ByteBuffer;

/**
 * The crypto alone, on one thread: 1 MiB requests of {@code aes-xts-plain64} (or the cipher given)
 * encrypted from one direct buffer into another and decrypted in place, in MiB per CPU-second of
 * this thread (so that other load on the machine does not count). A benchmark, not a test:
 * {@code java -cp targets/crypt/target/classes:targets/crypt/target/test-classes:core/spi/target/classes
 * dev.jdm.targets.crypt.SectorCipherBench [cipher]}.
 */
public final class SectorCipherBench {
  private SectorCipherBench() {}

  public static void main(String[] args) throws Exception {
    CipherSpec spec = CipherSpec.parse(args.length > 0 ? args[0] : "aes-xts-plain64");
    byte[] key = new byte[spec.chain() == CipherSpec.Chain.XTS ? 64 : 32];
    new java.util.Random(1).nextBytes(key);
    SectorCipher c = new SectorCipher(spec, 512);
    c.key(key, key);
    int n = 1 << 20;
    ByteBuffer src = ByteBuffer.allocateDirect(n);
    ByteBuffer dst = ByteBuffer.allocateDirect(n);
    ThreadMXBean cpu = ManagementFactory.getThreadMXBean();
    for (int round = 0; round < 8; round++) {
      int iters = 2000;
      long t0 = cpu.getCurrentThreadCpuTime();
      for (int i = 0; i < iters; i++) {
        c.encrypt(src, 0, dst, 0, n, i * 2048L, 1);
      }
      long t1 = cpu.getCurrentThreadCpuTime();
      for (int i = 0; i < iters; i++) {
        c.decrypt(dst, 0, n, i * 2048L, 1);
      }
      long t2 = cpu.getCurrentThreadCpuTime();
      System.out.printf("%s: encrypt %.0f MiB/s, decrypt %.0f MiB/s per CPU-second%n",
          args.length > 0 ? args[0] : "aes-xts-plain64", iters * 1e9 / (t1 - t0),
          iters * 1e9 / (t2 - t1));
    }
  }
}
