<?php
// Known-answer vectors for package phpsession: one line per value,
// "name<TAB>base64 of serialize(value)". Regenerate with
//   php vectors.php > vectors.txt
// (TestVectorsArePHPs checks the file against the PHP installed.)
ini_set('serialize_precision', '-1');

enum Suit: string { case Hearts = 'H'; case Spades = 'S'; }
class User { public $id = 42; protected $name = 'ann'; private $secret = 'x'; }
class Legacy implements Serializable {
    public function serialize() { return 'raw{data}'; }
    public function unserialize($s) {}
}
class Point { public $x = 1; public $y = 2; }

$shared = new Point();
$a = [1, 2];
$withRef = ['a' => 1];
$withRef['b'] = &$withRef['a'];

$vectors = [
    'null' => null,
    'true' => true,
    'false' => false,
    'int' => 42,
    'negative int' => -7,
    'int max' => PHP_INT_MAX,
    'int min' => PHP_INT_MIN,
    'float' => 0.1,
    'float whole' => 1.0,
    'float exponent' => 1.0E+25,
    'float tiny' => -1.5E-7,
    'negative zero' => -0.0,
    'nan' => NAN,
    'inf' => INF,
    'minus inf' => -INF,
    'string' => 'héllo "quoted"; {braces}',
    'empty string' => '',
    'binary string' => "a\x00b\xff",
    'list' => ['a', 'b'],
    'map' => ['user_id' => 42, 'roles' => ['admin', 'dev'], '5' => 'five', 'x' => null],
    'empty array' => [],
    'nested' => ['a' => ['b' => ['c' => [true]]]],
    'object' => new User(),
    'serializable' => new Legacy(),
    'enum' => Suit::Hearts,
    'object twice' => [$shared, $shared],
    'reference' => $withRef,
];
foreach ($vectors as $name => $v) {
    echo $name, "\t", base64_encode(@serialize($v)), "\n";
}
