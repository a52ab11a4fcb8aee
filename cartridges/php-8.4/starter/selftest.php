<?php
// Writes a row and a key to each service of the app and reads them back.
require __DIR__ . '/services.php';
$token = gethostname() . '-' . hrtime(true);
$result = [];
try {
    $c = sql_connection();
    if ($c !== null) {
        [$kind, $pdo] = $c;
        $pdo->exec('create table if not exists gearshift_selftest (v varchar(200))');
        $pdo->prepare('insert into gearshift_selftest (v) values (?)')->execute([$token]);
        $q = $pdo->prepare('select v from gearshift_selftest where v = ?');
        $q->execute([$token]);
        $result[$kind] = ['wrote' => $token, 'read' => $q->fetchColumn()];
    }
} catch (Throwable $e) {
    $result['sql'] = ['error' => $e->getMessage()];
}
$redisUrl = gear_env('REDIS_URL');
if ($redisUrl !== null) {
    try {
        $u = parse_url($redisUrl);
        $r = new Redis();
        $r->connect($u['host'], $u['port'] ?? 6379, 3.0);
        if (isset($u['pass'])) $r->auth(urldecode($u['pass']));
        $r->set('gearshift:selftest', $token);
        $result['redis'] = ['wrote' => $token, 'read' => $r->get('gearshift:selftest')];
    } catch (Throwable $e) {
        $result['redis'] = ['error' => $e->getMessage()];
    }
}
answer($result);
