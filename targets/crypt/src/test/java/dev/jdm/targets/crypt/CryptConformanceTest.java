package dev.jdm.targets.crypt;

import dev.jdm.testkit.TargetConformance;
import java.util.List;

class CryptConformanceTest extends TargetConformance {
  private static final String KEY =
      "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

  @Override
  protected String table(List<String> d) {
    return "0 8192 crypt aes-xts-plain64 " + KEY + " 0 " + d.get(0) + " 0\n"
        + "8192 4096 crypt aes-cbc-essiv:sha256 " + KEY + " 7 " + d.get(1) + " 100\n"
        + "12288 8192 crypt capi:xts(aes)-plain64 " + KEY + KEY + " 0 " + d.get(2)
        + " 8000 1 allow_discards";
  }

  @Override
  protected List<String> invalidTables(List<String> d) {
    String dev = d.get(0);
    return List.of(
        "0 8192 crypt aes-xts-plain64 " + KEY + " 0 " + dev,
        "0 8192 crypt aes-xts-plain64 abc 0 " + dev + " 0",
        "0 8192 crypt aes-xts-plain64 :32:logon:x 0 " + dev + " 0",
        "0 8192 crypt twofish-xts-plain64 " + KEY + " 0 " + dev + " 0",
        "0 8192 crypt aes-xts-plain64 " + KEY + " 0 /no/such/file 0",
        "0 8192 crypt aes-xts-plain64 " + KEY + " 0 " + dev + " 16000",
        "0 8192 crypt aes-xts-plain64 " + KEY + " 0 " + dev + " 0 1 sector_size:1000");
  }

  @Override
  protected Behaviour behaviour() {
    return Behaviour.UNDEFINED_UNWRITTEN;
  }
}
