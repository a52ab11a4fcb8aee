<?php
// Gearshift's PHP starter app: says what it is and whether it reached its database.
require __DIR__ . '/services.php';
$database = ['configured' => false];
try {
    $c = sql_connection();
    if ($c !== null) {
        [$kind, $pdo] = $c;
        $database = ['configured' => true, 'reachable' => true, 'kind' => $kind, 'version' => $pdo->query('select version()')->fetchColumn()];
    }
} catch (Throwable $e) {
    $database = ['configured' => true, 'reachable' => false, 'error' => $e->getMessage()];
}
answer([
    'message' => 'Welcome to your Gearshift app',
    'app' => gear_env('GEARSHIFT_APP'),
    'domain' => gear_env('GEARSHIFT_DOMAIN'),
    'gear' => gear_env('GEARSHIFT_GEAR_ID'),
    'host' => gethostname(),
    'php' => PHP_VERSION,
    'server' => $_SERVER['SERVER_SOFTWARE'] ?? null,
    'database' => $database,
]);
