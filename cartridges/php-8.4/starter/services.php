<?php
// Connections to the services Gearshift published to this gear, from their environment variables.
function gear_env(string $name): ?string {
    $v = getenv($name);
    return $v === false || $v === '' ? null : $v;
}

function sql_connection(): ?array {
    $url = gear_env('DATABASE_URL');
    if ($url === null) return null;
    $u = parse_url($url);
    $db = ltrim($u['path'] ?? '', '/');
    $kind = str_starts_with($u['scheme'], 'postgres') ? 'postgresql' : 'mysql';
    $dsn = $kind === 'postgresql'
        ? sprintf('pgsql:host=%s;port=%d;dbname=%s', $u['host'], $u['port'] ?? 5432, $db)
        : sprintf('mysql:host=%s;port=%d;dbname=%s', $u['host'], $u['port'] ?? 3306, $db);
    $pdo = new PDO($dsn, urldecode($u['user'] ?? ''), urldecode($u['pass'] ?? ''), [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION, PDO::ATTR_TIMEOUT => 3]);
    return [$kind, $pdo];
}

function answer(array $body): void {
    header('Content-Type: application/json');
    echo json_encode($body, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES), "\n";
}
