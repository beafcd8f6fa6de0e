# Debian's perl under `typevisor exec --root`, compared with qemu-riscv64 (test/abi/Python.test.ts):
# regular expressions, hashes, sorting, sprintf, pack and a pipe to a child.
use strict;
use warnings;
my $text = join("\n", map { "line $_: " . ("ab" x ($_ % 7)) . " value=" . ($_ * 37 % 101) } 1 .. 200);
my %count;
my $sum = 0;
for my $l (split /\n/, $text) {
  if ($l =~ /^line (\d+): ((?:ab)*) value=(\d+)$/) {
    $count{length($2) / 2}++;
    $sum += $3;
  }
}
print "sum $sum\n";
print join(",", map { "$_=$count{$_}" } sort { $a <=> $b } keys %count), "\n";
my %h = map { $_ => scalar reverse $_ } qw(alpha beta gamma delta);
print join(" ", map { "$_:$h{$_}" } sort keys %h), "\n";
(my $s = "Hello, World") =~ s/(\w+)/\u\L$1/g;
print "$s ", join("|", "a1b22c333" =~ /(\d+)/g), "\n";
printf "%08.3f %x %s\n", 3.14159, 255, unpack("H*", pack("N", 0xdeadbeef));
my @words = sort { length($a) <=> length($b) or $a cmp $b } split ' ', "the quick brown fox jumps over the lazy dog";
print "@words\n";
open(my $fh, "-|", $^X, "-e", 'print "from child $$\n" =~ s/\d+/N/r') or die;
print scalar <$fh>;
close $fh;
print "exit ", $? >> 8, "\n";
