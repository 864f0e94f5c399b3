<?php
// A PHP application's login, for the tests of the bridge packages
// (bridgetest.PHP runs it under `php -S` with the save handler and
// serialize_handler under test: -d session.save_handler=…). It answers
// the session id in a PHPSESSID cookie, as PHP does, and in the body.
//
//   /login.php?action=login&user=42   logs user 42 in (an integer id;
//                                     user=usr_ann logs in a string id)
//   /login.php?action=logout          session_destroy()
//   /login.php?action=whoami          prints the user id, or "nobody"
//   /login.php?action=hold&dir=D      holds the session's lock until the
//                                     file D/release exists, having made
//                                     D/locked once it holds it

class CartLine { public $sku; public $qty; protected $note = 'gift'; }

session_start();
$action = $_GET['action'] ?? 'login';
switch ($action) {
case 'login':
    session_regenerate_id(true); // as a login should: no session fixation
    $user = $_GET['user'] ?? '42';
    $_SESSION['user_id'] = ctype_digit($user) ? (int)$user : $user;
    $_SESSION['roles'] = ['admin', 'editor'];
    $_SESSION['logged_in_at'] = time();
    $_SESSION['flash'] = "Welcome back, \"friend\"; {you|are} here";
    $line = new CartLine();
    $line->sku = 'SKU-1';
    $line->qty = 2;
    $_SESSION['cart'] = ['lines' => [$line], 'total' => 19.99, 'coupon' => null, 'gift' => true];
    echo session_id();
    break;
case 'logout':
    session_destroy();
    echo 'bye';
    break;
case 'whoami':
    echo $_SESSION['user_id'] ?? 'nobody';
    break;
case 'hold':
    $dir = $_GET['dir'];
    touch("$dir/locked");
    for ($i = 0; $i < 6000 && !file_exists("$dir/release"); $i++) {
        usleep(10000);
    }
    echo file_exists("$dir/release") ? 'released' : 'gave up';
    break;
}
